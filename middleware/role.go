package middleware

import (
	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
)

// RequireRole guards a group behind JWT: the access token's roles claim
// must hold any of roles, else 403 forbidden with
// WWW-Authenticate: Bearer error="insufficient_scope" (RFC 6750 §3.1). The
// claim is trusted because JWT verified the signature and asked Redis that
// the token is still live, and a role change cuts the user's live access
// tokens: the roles a token carries are the user's current ones.
func RequireRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims := Claims(c)
		if claims == nil || !utils.HasRole(claims.Roles, roles...) {
			c.Header("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			response.Error(c, global.ErrForbidden)
			return
		}
		c.Next()
	}
}
