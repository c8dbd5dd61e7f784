package v1

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

// Proofs checks DPoP proofs (dpop.Verifier).
type Proofs interface {
	Check(headers []string, r dpop.Request) (*dpop.Proof, error)
	Nonce() string
}

// ProofReplays spends a proof's jti once (dpop.Replays).
type ProofReplays interface {
	Use(ctx context.Context, p *dpop.Proof) error
}

// DPoPEvents receives the refused proofs that metrics count.
type DPoPEvents interface {
	DPoPRejected(reason string)
}

// DPoP binds token pairs to the client's key at login and refresh (SPEC
// §14, RFC 9449 §5). A nil *DPoP is DPOP=off: proofs are ignored.
type DPoP struct {
	Mode    dpop.Mode
	Proofs  Proofs
	Replays ProofReplays
	// Origin names the URL a proof must be for (PUBLIC_URL, proxies).
	Origin interface{ URL(r *http.Request) string }
	Events DPoPEvents
}

// bind checks and spends the request's DPoP proof: the thumbprint to bind
// the new pair to, "" when the request has none and needs none. A proof
// that fails is an error even when DPOP=optional: a client that sent one
// must not get a pair it believes bound but is not.
func (d *DPoP) bind(c *gin.Context) (string, error) {
	if d == nil || d.Mode == dpop.Off {
		return "", nil
	}
	headers := c.Request.Header.Values("DPoP")
	if len(headers) == 0 && d.Mode != dpop.Required {
		return "", nil
	}
	p, err := d.Proofs.Check(headers, dpop.Request{Method: c.Request.Method, URL: d.Origin.URL(c.Request)})
	if err == nil {
		err = d.Replays.Use(c.Request.Context(), p)
	}
	if err != nil {
		return "", err
	}
	if n := d.Proofs.Nonce(); n != "" {
		c.Header("DPoP-Nonce", n) // the freshest one, for the next proof (RFC 9449 §8.2)
	}
	return p.JKT, nil
}

// rebind is bind for a refresh of the session old belongs to: a bound
// session needs a proof by its own key and stays bound to it; an unbound
// one stays unbound (with DPOP=required it cannot be refreshed: log in
// again with a proof).
func (d *DPoP) rebind(c *gin.Context, old *utils.Claims) (string, error) {
	jkt, err := d.bind(c)
	switch {
	case err != nil:
		return "", err
	case old.Cnf == nil && d != nil && d.Mode == dpop.Required:
		return "", global.ErrDPoPSessionUnbound
	case old.Cnf == nil:
		return "", nil
	case jkt == "":
		return "", global.ErrDPoPMissing
	case jkt != old.Cnf.JKT:
		return "", global.ErrDPoPKeyMismatch
	}
	return jkt, nil
}

// isDPoPErr tells a DPoP failure from the other errors of a handler.
func isDPoPErr(err error) bool {
	return errors.Is(err, global.ErrDPoPProof) || errors.Is(err, global.ErrDPoPNonce)
}

// refuse answers a DPoP failure of login or refresh: 400 (RFC 9449 §5),
// with a fresh DPoP-Nonce when the nonce was the trouble, counted by reason.
func (d *DPoP) refuse(c *gin.Context, err error) {
	nonce := ""
	if d != nil {
		d.Events.DPoPRejected(global.DPoPReason(err))
		if errors.Is(err, global.ErrDPoPNonce) {
			nonce = d.Proofs.Nonce()
		}
	}
	response.DPoPChallenge(c, err, false, nonce)
	response.Error(c, global.TokenEndpoint(err))
}
