package v1

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
)

// Identity headers of a /auth/verify answer, which the reverse proxy copies
// onto the request it passes on (docs/GATEWAY.md).
const (
	HeaderAuthUser    = "X-Auth-User"
	HeaderAuthSession = "X-Auth-Session"
	HeaderAuthRoles   = "X-Auth-Roles"
	HeaderAuthAmr     = "X-Auth-Amr"
)

// Outcomes of a verify call, the label of jwt_verify_total.
const (
	VerifyAllowed         = "allowed"
	VerifyUnauthenticated = "unauthenticated"
	VerifyForbidden       = "forbidden"
	VerifyUnavailable     = "unavailable"
	VerifyError           = "error"
)

// VerifyEvents counts verify calls by outcome (*metrics.Metrics).
type VerifyEvents interface {
	Verified(outcome string)
}

// Verify answers the forward-authentication subrequests of a reverse proxy
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth) at
// /auth/verify. The token is checked by the private group's own middleware
// (middleware.JWT), which runs between Observe and Allow: the proxy gets
// exactly the answer a private route would give, revocation included.
type Verify struct {
	Events VerifyEvents
}

// Observe wraps the whole /auth/verify chain: no answer of it may be cached
// (a cached 200 would outlive a logout), and each is counted by outcome.
func (h *Verify) Observe(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
	h.Events.Verified(verifyOutcome(c.Writer.Status()))
}

// Allow runs once middleware.JWT accepted the access token. With ?role=
// (repeatable) the user must hold one of the roles named, else 403
// forbidden. The answer is 200 with an empty body and the identity headers,
// each present (empty when the token carries none), so that a proxy copying
// them overwrites whatever a client sent under those names.
func (h *Verify) Allow(c *gin.Context) {
	claims := middleware.Claims(c)
	if want := c.QueryArray("role"); len(want) > 0 && !holdsAny(claims.Roles, want) {
		c.Header("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		response.Error(c, global.ErrForbidden)
		return
	}
	// Set directly: gin's c.Header deletes a header given an empty value.
	hd := c.Writer.Header()
	hd.Set(HeaderAuthUser, claims.Username)
	hd.Set(HeaderAuthSession, claims.SessionID)
	hd.Set(HeaderAuthRoles, strings.Join(claims.Roles, ","))
	hd.Set(HeaderAuthAmr, strings.Join(claims.AMR, ","))
	c.Status(http.StatusOK)
}

// holdsAny reports whether held has one of want. An empty name is never
// held: a misconfigured "?role=" denies rather than allows.
func holdsAny(held, want []string) bool {
	for _, w := range want {
		if w != "" && slices.Contains(held, w) {
			return true
		}
	}
	return false
}

// verifyOutcome names the outcome of a verify answer by its status.
func verifyOutcome(status int) string {
	switch status {
	case http.StatusOK:
		return VerifyAllowed
	case http.StatusUnauthorized:
		return VerifyUnauthenticated
	case http.StatusForbidden:
		return VerifyForbidden
	case http.StatusServiceUnavailable:
		return VerifyUnavailable
	}
	return VerifyError
}
