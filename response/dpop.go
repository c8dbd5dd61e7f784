package response

import (
	"errors"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/utils/dpop"
)

// DPoPChallenge sets the headers of a failed DPoP request (RFC 9449 §7.1,
// §8): WWW-Authenticate with the DPoP scheme, the error code and the
// accepted algorithms on a resource request (resource), and DPoP-Nonce
// whenever a nonce is to be used (nonce not empty).
func DPoPChallenge(c *gin.Context, err error, resource bool, nonce string) {
	if nonce != "" {
		c.Header("DPoP-Nonce", nonce)
	}
	if !resource {
		return
	}
	code := CodeInvalidToken
	switch {
	case errors.Is(err, global.ErrDPoPNonce):
		code = CodeUseDPoPNonce
	case errors.Is(err, global.ErrDPoPProof):
		code = CodeInvalidDPoPProof
	case !errors.Is(err, global.ErrInvalidToken):
		return // 503 and the like: no challenge
	}
	c.Header("WWW-Authenticate", `DPoP error="`+code+`", algs="`+dpop.Algs+`"`)
}
