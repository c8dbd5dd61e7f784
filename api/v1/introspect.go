package v1

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
)

// LiveTokens tells whether a verified token is still its session's live one
// (utils.Sessions).
type LiveTokens interface {
	CheckAccess(ctx context.Context, c *utils.Claims) error
	CheckRefresh(ctx context.Context, c *utils.Claims) error
}

// Introspect answers token introspection (RFC 7662): another service asks
// whether a token is live, revocation included, without reading Redis
// itself. Only callers presenting Secret (INTROSPECT_SECRET) are answered.
type Introspect struct {
	Tokens   Tokens
	Sessions LiveTokens
	Secret   []byte
}

// introspection is the answer for an active token. token_type is the
// token's type claim (access or refresh), not RFC 6749's "Bearer": that is
// what a caller needs to tell them apart.
type introspection struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type"`
	Username  string `json:"username"`
	Sub       string `json:"sub"`
	Iss       string `json:"iss"`
	Jti       string `json:"jti"`
	Sid       string `json:"sid"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Nbf       int64  `json:"nbf,omitempty"`
	// Roles are an access token's roles (a refresh token carries none).
	// A live access token's are the user's current ones: a role change
	// revokes the user's access tokens (SPEC §10). A gateway or resource
	// server that introspects reads them.
	Roles []string `json:"roles,omitempty"`
	// AMR is how the token's user authenticated (RFC 8176; RFC 7662 lets
	// an answer carry any claim of the token).
	AMR []string `json:"amr,omitempty"`
	// Cnf is a DPoP-bound token's key thumbprint (RFC 9449 §6.2).
	Cnf *utils.Confirmation `json:"cnf,omitempty"`
}

// Introspect answers POST /public/introspect: form (or JSON) token and
// optional token_type_hint. 200 {"active":true,…} for a live token,
// {"active":false} for anything else (forged, expired, revoked, rotated
// away, garbage) with no reason given (RFC 7662 §2.2). A caller without the
// secret gets 401 invalid_credentials; a Redis outage is 503, never an
// answer: "not active" would be a guess.
func (h *Introspect) Introspect(c *gin.Context) {
	if !h.authorized(c.GetHeader("Authorization")) {
		c.Header("WWW-Authenticate", `Basic realm="introspect"`)
		response.Error(c, global.ErrInvalidCredentials)
		return
	}
	f, err := fields(c, "token", "token_type_hint")
	if err == nil {
		err = required(f, "token")
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	claims, err := h.live(c.Request.Context(), f["token"], f["token_type_hint"])
	if err != nil && !errors.Is(err, global.ErrInvalidToken) {
		response.Error(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if err != nil {
		c.JSON(http.StatusOK, gin.H{"active": false})
		return
	}
	out := introspection{
		Active: true, TokenType: claims.Type, Username: claims.Username, Sub: claims.Username,
		Iss: claims.Issuer, Jti: claims.ID, Sid: claims.SessionID,
		Exp: claims.ExpiresAt.Unix(), Iat: claims.IssuedAt.Unix(), Roles: claims.Roles, AMR: claims.AMR, Cnf: claims.Cnf,
	}
	if claims.NotBefore != nil {
		out.Nbf = claims.NotBefore.Unix()
	}
	c.JSON(http.StatusOK, out)
}

// live verifies token as an access token, else as a refresh token (in the
// order the hint suggests), and asks the session store whether it is still
// its session's live one: the same checks a private route or a refresh
// would make, without using the token.
func (h *Introspect) live(ctx context.Context, token, hint string) (*utils.Claims, error) {
	types := []string{global.TokenAccess, global.TokenRefresh}
	if hint == "refresh_token" {
		types[0], types[1] = types[1], types[0]
	}
	var err error
	for _, typ := range types {
		var c *utils.Claims
		if c, err = h.Tokens.Parse(token, typ); errors.Is(err, global.ErrTokenType) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if typ == global.TokenAccess {
			err = h.Sessions.CheckAccess(ctx, c)
		} else {
			err = h.Sessions.CheckRefresh(ctx, c)
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, err
}

// authorized reports whether header presents the introspection secret, as
// "Bearer <secret>" or as the password of HTTP Basic (any user name, which
// RFC 6749 §2.3.1 form-encodes: both spellings are tried).
func (h *Introspect) authorized(header string) bool {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case cred == "":
		return false
	case strings.EqualFold(scheme, "Bearer"):
		return h.matches(cred)
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return false
		}
		unescaped, err := url.QueryUnescape(pass)
		return h.matches(pass) || (err == nil && unescaped != pass && h.matches(unescaped))
	}
	return false
}

// matches compares in constant time, lengths included: both sides are
// hashed to 32 bytes first.
func (h *Introspect) matches(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(h.Secret)
	return len(h.Secret) > 0 && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
