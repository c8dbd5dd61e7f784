package initialize

import (
	"crypto/rand"

	"go-jwt/global"
	"go-jwt/utils"
	"go-jwt/utils/mfa"
)

// secondFactor reads the second factor's settings (SPEC §11): DATA_KEY, the
// key TOTP secrets are encrypted with at rest, and ADMIN_MFA.
func (r *envReader) secondFactor(c *global.Config) {
	c.AdminMFA = r.onOff("ADMIN_MFA", false)
	switch key := r.get("DATA_KEY"); {
	case len(key) >= mfa.MinDataKeyLen && c.JWTAlg == utils.AlgHS256 && key == r.get("JWT_SECRET"):
		r.fail("DATA_KEY", "must differ from JWT_SECRET: one leaked key must not give away both")
	case len(key) >= mfa.MinDataKeyLen:
		c.DataKey = []byte(key)
	case key != "":
		r.fail("DATA_KEY", "must be at least %d bytes, got %d", mfa.MinDataKeyLen, len(key))
	case c.Release:
		r.fail("DATA_KEY", "is required in release mode (GIN_MODE=release): the key that encrypts TOTP secrets at rest, at least %d random bytes, e.g. `openssl rand -hex 32`", mfa.MinDataKeyLen)
	default:
		c.DataKey = make([]byte, 32)
		if _, err := rand.Read(c.DataKey); err != nil {
			r.fail("DATA_KEY", "cannot generate a random key: %v", err)
		}
		c.DataKeyGenerated = true
	}
}
