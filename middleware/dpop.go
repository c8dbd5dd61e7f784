package middleware

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

// ProofChecker checks DPoP proofs (dpop.Verifier).
type ProofChecker interface {
	Check(headers []string, r dpop.Request) (*dpop.Proof, error)
	Nonce() string
}

// ProofSpender turns a proof's single use into a command that rides in the
// access check's round trip (dpop.Replays).
type ProofSpender interface {
	Spend(p *dpop.Proof) utils.Also
}

// BoundAccessChecker checks an access token's session together with one
// more Redis command (utils.Sessions).
type BoundAccessChecker interface {
	CheckAccessWith(ctx context.Context, c *utils.Claims, also utils.Also) error
}

// DPoPEvents receives the refused proofs that metrics count.
type DPoPEvents interface {
	DPoPRejected(reason string)
}

// DPoP is what JWT needs for sender-constrained access tokens (SPEC §14,
// RFC 9449 §7). A nil *DPoP is DPOP=off.
type DPoP struct {
	Mode    dpop.Mode
	Proofs  ProofChecker
	Replays ProofSpender
	Access  BoundAccessChecker
	Origin  RequestOrigin
	Events  DPoPEvents
}

// RequestOrigin names the URL a proof must be for, behind proxies and
// PUBLIC_URL (dpop.Origin).
type RequestOrigin interface {
	URL(r *http.Request) string
	Forwarded(r *http.Request) (method, url string, ok bool)
}

// DPoPToken returns the token of an "Authorization: DPoP <token>" header
// (scheme in any case).
func DPoPToken(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "DPoP") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

func (d *DPoP) required() bool { return d != nil && d.Mode == dpop.Required }

// bearerRefused is why an access token that verified is refused as Bearer:
// it is bound to a key, or DPOP=required.
func (d *DPoP) bearerRefused(c *utils.Claims) error {
	if c.Cnf != nil {
		return global.ErrTokenBound
	}
	return global.ErrTokenDPoPRequired
}

// serve is JWT for "Authorization: DPoP <raw>": a token bound to a key
// (cnf.jkt), presented with a valid proof by that key for this request.
// Failures are 401 with a DPoP challenge. forwarded: the proof names the
// proxied request (CheckForwarded).
func (d *DPoP) serve(c *gin.Context, tokens TokenParser, raw string, forwarded bool) {
	claims, err := tokens.Parse(raw, global.TokenAccess)
	switch {
	case err != nil:
	case forwarded:
		err = d.CheckForwarded(c, claims, raw)
	default:
		err = d.Check(c.Request.Context(), c.Request.Header.Values("DPoP"), claims, raw, c.Request.Method, d.Origin.URL(c.Request))
	}
	if err != nil {
		d.Refuse(c, err)
		return
	}
	if n := d.Proofs.Nonce(); n != "" {
		c.Header("DPoP-Nonce", n) // the freshest one, for the next proof (RFC 9449 §8.2)
	}
	withClaims(c, claims)
}

// Check is the DPoP check of the verified access token claims (raw, as
// presented): it must be bound (cnf.jkt), and proofs (the DPoP header
// values) must hold one valid proof by that key for a request of method to
// url, whose jti is spent in the same Redis round trip as the check that
// the token is still its session's live one.
func (d *DPoP) Check(ctx context.Context, proofs []string, claims *utils.Claims, raw, method, url string) error {
	if claims.Cnf == nil {
		return global.ErrTokenNotBound
	}
	p, err := d.Proofs.Check(proofs, dpop.Request{Method: method, URL: url, AccessToken: raw})
	switch {
	case err != nil:
		return err
	case p.JKT != claims.Cnf.JKT:
		return global.ErrDPoPKeyMismatch
	}
	return d.Access.CheckAccessWith(ctx, claims, d.Replays.Spend(p))
}

// CheckForwarded is Check for a forward-auth request (/auth/verify, SPEC
// §13): the proof must be for the request the trusted proxy asks about,
// named by X-Forwarded-Method and X-Forwarded-Uri, not for the
// verification request itself; without those headers from a trusted
// proxy no proof can be checked, and the answer is invalid_dpop_proof.
func (d *DPoP) CheckForwarded(c *gin.Context, claims *utils.Claims, raw string) error {
	method, url, ok := d.Origin.Forwarded(c.Request)
	if !ok {
		return dpop.ErrNotForwarded
	}
	return d.Check(c.Request.Context(), c.Request.Header.Values("DPoP"), claims, raw, method, url)
}

// Refuse answers a failed DPoP request: 401 with the DPoP challenge (and
// DPoP-Nonce when the nonce was the trouble), 503 for Redis trouble; a
// refused proof is counted by its reason.
func (d *DPoP) Refuse(c *gin.Context, err error) {
	if reason := global.DPoPReason(err); reason != "" {
		d.Events.DPoPRejected(reason)
	}
	nonce := ""
	if errors.Is(err, global.ErrDPoPNonce) {
		nonce = d.Proofs.Nonce()
	}
	response.DPoPChallenge(c, err, true, nonce)
	response.Error(c, err)
}
