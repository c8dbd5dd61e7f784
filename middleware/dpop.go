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
	// Origin names the URL a proof must be for (PUBLIC_URL, proxies).
	Origin interface{ URL(r *http.Request) string }
	Events DPoPEvents
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
// (cnf.jkt), presented with a valid proof by that key for this request
// (htm, htu, ath), whose jti is spent in the same Redis round trip as the
// revocation check. Failures are 401 with a DPoP challenge.
func (d *DPoP) serve(c *gin.Context, tokens TokenParser, raw string) {
	claims, err := tokens.Parse(raw, global.TokenAccess)
	switch {
	case err != nil:
	case claims.Cnf == nil:
		err = global.ErrTokenNotBound
	default:
		var p *dpop.Proof
		p, err = d.Proofs.Check(c.Request.Header.Values("DPoP"),
			dpop.Request{Method: c.Request.Method, URL: d.Origin.URL(c.Request), AccessToken: raw})
		if err == nil && p.JKT != claims.Cnf.JKT {
			err = global.ErrDPoPKeyMismatch
		}
		if err == nil {
			err = d.Access.CheckAccessWith(c.Request.Context(), claims, d.Replays.Spend(p))
		}
	}
	nonce := d.Proofs.Nonce() // "" unless DPOP_NONCE=on
	if err != nil {
		if reason := global.DPoPReason(err); reason != "" {
			d.Events.DPoPRejected(reason)
		}
		if !errors.Is(err, global.ErrDPoPNonce) {
			nonce = ""
		}
		response.DPoPChallenge(c, err, true, nonce)
		response.Error(c, err)
		return
	}
	if nonce != "" {
		c.Header("DPoP-Nonce", nonce) // the freshest one, for the next proof (RFC 9449 §8.2)
	}
	c.Set(global.CtxClaims, claims)
	c.Next()
}
