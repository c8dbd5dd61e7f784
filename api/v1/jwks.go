package v1

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"go-jwt/utils"
)

// JWKS publishes the public keys that tokens are signed with, so another
// service verifies them itself (RFC 7517 JWK Set).
type JWKS struct {
	// Keys are the public keys, the signing key first (utils.Keys.JWKS);
	// none with HS256, whose key is a secret.
	Keys []utils.JWK
}

// jwksMaxAge is how long a verifier may cache the set: a new signing key
// must be published (in JWT_PUBLIC_KEYS) at least this long before it signs.
const jwksMaxAge = "public, max-age=300"

// Serve answers GET /.well-known/jwks.json: {"keys":[…]}.
func (h *JWKS) Serve(c *gin.Context) {
	keys := h.Keys
	if keys == nil {
		keys = []utils.JWK{} // "keys":[], never null
	}
	c.Header("Cache-Control", jwksMaxAge)
	c.JSON(http.StatusOK, gin.H{"keys": keys})
}
