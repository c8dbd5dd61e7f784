package global

import (
	"crypto"
	"time"
)

// Config is the whole configuration, read once at start-up by
// initialize.LoadConfig and passed down by value. SPEC §3 names each setting.
type Config struct {
	// Release is true when GIN_MODE=release: stricter defaults (no demo user,
	// no generated secret, JSON logs).
	Release bool
	// Addr is the listen address (APP_ADDR).
	Addr string
	// PIDFile, when set, receives the PID of the serving process; each endless
	// restart overwrites it (for systemd's PIDFile= and for scripts).
	PIDFile string

	// MetricsAddr, when set, serves /metrics there instead of on Addr.
	MetricsAddr string
	// PprofAddr, when set, serves net/http/pprof there (loopback when no
	// host is given).
	PprofAddr string

	// RedisAddr is REDIS_ADDR as given. No address at all (RedisAddrs below
	// empty) means an embedded in-process Redis (miniredis).
	RedisAddr     string
	RedisPassword string
	RedisDB       int

	// Redis topology and transport (REDIS_ADDR / REDIS_ADDRS,
	// REDIS_MASTER_NAME, REDIS_USERNAME, REDIS_TLS, REDIS_TLS_CA), with
	// go-redis UniversalOptions semantics: one address is a single node,
	// several are a Cluster, and with RedisMasterName they are the Sentinels.
	RedisAddrs      []string
	RedisMasterName string
	RedisUsername   string
	// RedisTLS dials Redis over TLS. RedisTLSCAPEM, when set, holds the CA
	// certificates (PEM, read from the file REDIS_TLS_CA names at start-up)
	// trusted instead of the system's.
	RedisTLS      bool
	RedisTLSCA    string
	RedisTLSCAPEM []byte

	// JWTSecret is the HMAC key. SecretGenerated tells that it was made up at
	// start-up because JWT_SECRET was unset outside release mode.
	JWTSecret       []byte
	SecretGenerated bool
	Issuer          string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	// SessionMaxAge caps a session's life: rotation never goes past it.
	SessionMaxAge time.Duration
	// RefreshReuseGrace: within it after a rotation the previous refresh token
	// is refused without revoking the session (two tabs racing).
	RefreshReuseGrace time.Duration

	// JWTAlg is the one signing algorithm (JWT_ALG): HS256 with JWTSecret,
	// or EdDSA, ES256, RS256 with JWTSigningKey (JWT_PRIVATE_KEY, read at
	// start-up). JWTVerifyKeys (JWT_PUBLIC_KEYS) are public keys whose
	// tokens are still accepted, so a key rotation logs nobody out.
	JWTAlg        string
	JWTSigningKey crypto.Signer
	JWTVerifyKeys []crypto.PublicKey
	// IntrospectSecret, when set, enables POST /public/introspect for the
	// services presenting it (INTROSPECT_SECRET).
	IntrospectSecret []byte

	// DemoUser and DemoPassword, when DemoUser is set, name a user created at
	// start-up so the tutorial's curl lines work.
	DemoUser     string
	DemoPassword string

	// CORSOrigins are the origins allowed to call the API from a browser
	// (with credentials); ["*"] allows any origin without credentials;
	// empty: no CORS headers at all.
	CORSOrigins []string
	// RefreshCookie also hands the refresh token out as an HttpOnly cookie
	// and reads it from there (browsers).
	RefreshCookie bool
	// DemoPage serves the demo front end at /.
	DemoPage bool

	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Registration enables POST /public/register.
	Registration bool
	// MaxSessions caps the live sessions of one user; the oldest goes first.
	MaxSessions int

	// DefaultRoles are the roles of a new user (DEFAULT_ROLES), sorted.
	DefaultRoles []string

	// Password hashing (argon2id) parameters and the number of hashes allowed
	// to run at once.
	Argon2Memory   uint32 // KiB
	Argon2Time     uint32
	Argon2Threads  uint8
	HashConcurrent int
	HashWait       time.Duration

	// Login rate limits: failed attempts per minute and burst, per username
	// and per client IP.
	LoginUserRate  int
	LoginUserBurst int
	LoginIPRate    int
	LoginIPBurst   int

	// Second factor (SPEC §11). DataKey (DATA_KEY) encrypts TOTP secrets at
	// rest; DataKeyGenerated tells that it was made up at start-up because
	// DATA_KEY was unset outside release mode. AdminMFA (ADMIN_MFA) makes the
	// admin group demand a second factor.
	DataKey          []byte
	DataKeyGenerated bool
	AdminMFA         bool

	// Passkeys (WebAuthn, SPEC §12). WebAuthnRPID is the relying party id
	// (WEBAUTHN_RP_ID): the domain a passkey is bound to. WebAuthnOrigins
	// (WEBAUTHN_ORIGINS) are the page origins a ceremony may come from, each
	// on that domain or a subdomain of it; WebAuthnRPName is the name an
	// authenticator shows (WEBAUTHN_RP_NAME).
	WebAuthnRPID    string
	WebAuthnRPName  string
	WebAuthnOrigins []string

	// DPoP (SPEC §14): DPoP is DPOP (off, optional or required); DPoPMaxAge
	// (DPOP_MAX_AGE) is the oldest a proof's iat may be; DPoPNonce
	// (DPOP_NONCE) makes every proof carry a server nonce; PublicURL
	// (PUBLIC_URL), when set, is the service's address as clients see it,
	// which proofs name instead of the request's own.
	DPoP       string
	DPoPMaxAge time.Duration
	DPoPNonce  bool
	PublicURL  string
}
