package middleware

import (
	"slices"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
)

// RequireSecondFactor lets a request through only if its access token says
// the user authenticated with a second factor: amr holds otp (a TOTP or
// recovery code) or hwk (a passkey). Otherwise 403 mfa_required. It runs
// after JWT, which stored the verified claims (ADMIN_MFA=on puts it on the
// admin group).
func RequireSecondFactor() gin.HandlerFunc {
	return func(c *gin.Context) {
		if claims := Claims(c); claims == nil ||
			!slices.Contains(claims.AMR, global.AMROTP) && !slices.Contains(claims.AMR, global.AMRHardwareKey) {
			response.Error(c, global.ErrMFARequired)
			return
		}
		c.Next()
	}
}
