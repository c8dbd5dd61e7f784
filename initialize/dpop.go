package initialize

import (
	"crypto/rand"
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/go-redis/redis/v8"

	v1 "go-jwt/api/v1"
	"go-jwt/global"
	"go-jwt/metrics"
	"go-jwt/middleware"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

// maxDPoPAge bounds DPOP_MAX_AGE: a proof is a one-request credential, and
// every jti is kept in Redis that long.
const maxDPoPAge = 10 * time.Minute

// dpop reads the DPoP settings (SPEC §14).
func (r *envReader) dpop(c *global.Config) {
	mode, err := dpop.ParseMode(r.get("DPOP"))
	if err != nil {
		r.fail("DPOP", "%v", err)
	}
	c.DPoP = [...]string{dpop.Off: "off", dpop.Optional: "optional", dpop.Required: "required"}[mode]
	c.DPoPMaxAge = r.duration("DPOP_MAX_AGE", 60*time.Second)
	if c.DPoPMaxAge > maxDPoPAge {
		r.fail("DPOP_MAX_AGE", "must be at most %v, got %v", maxDPoPAge, c.DPoPMaxAge)
	}
	c.DPoPNonce = r.onOff("DPOP_NONCE", false)
	c.PublicURL = r.str("PUBLIC_URL", "")
	if _, err := dpop.NewOrigin(c.PublicURL, nil); err != nil {
		r.fail("PUBLIC_URL", "%v", err)
	}
	if _, err := dpop.NewOrigin("", c.TrustedProxies); err != nil {
		r.fail("TRUSTED_PROXIES", "%v", err)
	}
}

// dpopParts are the DPoP pieces of the handlers and the middleware; both
// nil when DPOP=off.
type dpopParts struct {
	public *v1.DPoP
	auth   *middleware.DPoP
}

// newDPoP builds the proof verifier, the jti store on rdb, the nonces and
// the origin of cfg; bound access tokens are checked against sessions.
func newDPoP(cfg global.Config, rdb redis.UniversalClient, sessions *utils.Sessions, log *slog.Logger, m *metrics.Metrics, now func() time.Time) (dpopParts, error) {
	mode, err := dpop.ParseMode(cfg.DPoP)
	if err != nil || mode == dpop.Off {
		return dpopParts{}, err
	}
	origin, err := dpop.NewOrigin(cfg.PublicURL, cfg.TrustedProxies)
	if err != nil {
		return dpopParts{}, err
	}
	var nonces *dpop.Nonces
	if cfg.DPoPNonce {
		nonces = dpop.NewNonces(dpop.NonceKey(nonceSecret(cfg, log)), now)
	}
	proofs := dpop.NewVerifier(cfg.DPoPMaxAge, nonces, now)
	replays := dpop.NewReplays(rdb, cfg.DPoPMaxAge)
	return dpopParts{
		public: &v1.DPoP{Mode: mode, Proofs: proofs, Replays: replays, Origin: origin, Events: m},
		auth:   &middleware.DPoP{Mode: mode, Proofs: proofs, Replays: replays, Access: sessions, Origin: origin, Events: m},
	}, nil
}

// nonceSecret is what the nonce key is derived from: a secret every
// instance is configured with, so that each accepts the others' nonces
// (JWT_SECRET, else the JWT_PRIVATE_KEY signing key); without one, a random
// per-process key, with a warning.
func nonceSecret(cfg global.Config, log *slog.Logger) []byte {
	if len(cfg.JWTSecret) > 0 {
		return cfg.JWTSecret
	}
	if cfg.JWTSigningKey != nil {
		if der, err := x509.MarshalPKCS8PrivateKey(cfg.JWTSigningKey); err == nil {
			return der
		}
	}
	log.Warn("DPOP_NONCE=on without JWT_SECRET or JWT_PRIVATE_KEY: DPoP nonces use a random per-process key, so one instance refuses another's nonces")
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return key
}
