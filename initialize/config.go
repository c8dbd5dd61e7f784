// Package initialize is the only place that knows every piece: it reads the
// configuration, connects to Redis, builds the token codec, the stores, the
// handlers and the router, and serves them under endless.
package initialize

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go-jwt/global"
	"go-jwt/utils"
)

// minSecretLen is the shortest HMAC key accepted: HS256 wants a key at least
// as long as its output (RFC 7518 §3.2).
const minSecretLen = 32

// LoadConfig reads the configuration from getenv (os.Getenv in production).
// A bad value returns an error whose text starts with the variable's name.
func LoadConfig(getenv func(string) string) (global.Config, error) {
	r := envReader{get: getenv}
	c := global.Config{
		Release:       getenv("GIN_MODE") == "release",
		Addr:          r.str("APP_ADDR", ":9090"),
		PIDFile:       r.str("PID_FILE", ""),
		MetricsAddr:   r.str("METRICS_ADDR", ""),
		PprofAddr:     r.str("PPROF_ADDR", ""),
		RedisAddr:     r.str("REDIS_ADDR", ""),
		RedisPassword: getenv("REDIS_PASSWORD"),
		RedisDB:       r.integer("REDIS_DB", 0, 0, 15),
		Issuer:        r.str("JWT_ISSUER", "jwt-demo"),
		AccessTTL:     r.duration("ACCESS_TTL", 15*time.Minute),
		RefreshTTL:    r.duration("REFRESH_TTL", 168*time.Hour),
		SessionMaxAge: r.duration("SESSION_MAX_AGE", 720*time.Hour),

		RefreshReuseGrace: r.durationMin("REFRESH_REUSE_GRACE", 0, 0),
		TrustedProxies:    r.list("TRUSTED_PROXIES"),
		CORSOrigins:       r.list("CORS_ORIGINS"),
		RefreshCookie:     r.onOff("REFRESH_COOKIE", refreshCookieDefault(getenv)),
		DemoPage:          r.onOff("DEMO_PAGE", getenv("GIN_MODE") != "release"),
		Registration:      r.onOff("REGISTRATION", true),
		MaxSessions:       r.integer("MAX_SESSIONS", 50, 1, 10000),

		// The conversions are safe: r.integer bounds each value.
		Argon2Memory:   uint32(r.integer("ARGON2_MEMORY_KIB", 19456, 1024, 4<<20)), //nolint:gosec
		Argon2Time:     uint32(r.integer("ARGON2_TIME", 2, 1, 100)),                //nolint:gosec
		Argon2Threads:  uint8(r.integer("ARGON2_THREADS", 1, 1, 64)),               //nolint:gosec
		HashConcurrent: r.integer("HASH_CONCURRENCY", runtime.NumCPU(), 1, 1024),
		HashWait:       r.duration("HASH_WAIT", 2*time.Second),

		LoginUserRate:  r.integer("LOGIN_USER_RATE", 5, 1, 1000000),
		LoginUserBurst: r.integer("LOGIN_USER_BURST", 10, 1, 1000000),
		LoginIPRate:    r.integer("LOGIN_IP_RATE", 30, 1, 1000000),
		LoginIPBurst:   r.integer("LOGIN_IP_BURST", 60, 1, 1000000),
	}

	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			r.fail("APP_ADDR", "want host:port or :port, got %q", c.Addr)
		}
	}
	for name, addr := range map[string]string{"METRICS_ADDR": c.MetricsAddr, "PPROF_ADDR": c.PprofAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			r.fail(name, "want host:port or :port, got %q", addr)
		}
	}
	if host, port, err := net.SplitHostPort(c.PprofAddr); err == nil && host == "" {
		c.PprofAddr = net.JoinHostPort("127.0.0.1", port) // profiles are not for the world
	}
	// Two listeners on one address: one of them would not start (and of the
	// metrics and pprof handlers, kept by address, one would take the
	// other's place without a word). Port 0 is a free port each.
	seen := map[string]string{}
	for _, l := range []struct{ name, addr string }{{"APP_ADDR", c.Addr}, {"METRICS_ADDR", c.MetricsAddr}, {"PPROF_ADDR", c.PprofAddr}} {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || port == "0" {
			continue
		}
		if other, ok := seen[l.addr]; ok {
			r.fail(l.name, "%q is %s's address too", l.addr, other)
		}
		seen[l.addr] = l.name
	}
	loadRedisConfig(&r, &c) // REDIS_ADDR(S), Sentinel, ACL user, TLS: redis.go
	for _, o := range c.CORSOrigins {
		switch {
		case o == "*" && c.RefreshCookie:
			r.fail("CORS_ORIGINS", "* cannot be combined with REFRESH_COOKIE=on: credentials need a list of origins")
		case o == "*" && len(c.CORSOrigins) > 1:
			r.fail("CORS_ORIGINS", "* stands alone")
		case o != "*" && !validOrigin(o):
			r.fail("CORS_ORIGINS", "want origins like https://app.example.com (scheme, host, optional port, no path), got %q", o)
		}
	}
	loadWebAuthnConfig(&r, &c) // WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS: webauthn.go
	if c.Issuer == "" {
		r.fail("JWT_ISSUER", "must not be empty")
	}
	if c.RefreshTTL < c.AccessTTL {
		r.fail("REFRESH_TTL", "must not be shorter than ACCESS_TTL")
	}

	r.tokenKeys(&c) // JWT_ALG, JWT_PRIVATE_KEY, JWT_PUBLIC_KEYS, INTROSPECT_SECRET
	r.dpop(&c)      // DPOP, DPOP_MAX_AGE, DPOP_NONCE, PUBLIC_URL: dpop.go
	switch secret := getenv("JWT_SECRET"); {
	case c.JWTAlg != "" && c.JWTAlg != utils.AlgHS256: // signed with JWT_PRIVATE_KEY: no secret needed
	case len(secret) >= minSecretLen:
		c.JWTSecret = []byte(secret)
	case secret != "":
		r.fail("JWT_SECRET", "must be at least %d bytes, got %d", minSecretLen, len(secret))
	case c.Release:
		r.fail("JWT_SECRET", "is required in release mode (GIN_MODE=release): set a random key of at least %d bytes, e.g. `openssl rand -hex 32`", minSecretLen)
	default:
		c.JWTSecret = make([]byte, 32)
		if _, err := rand.Read(c.JWTSecret); err != nil {
			r.fail("JWT_SECRET", "cannot generate a random key: %v", err)
		}
		c.SecretGenerated = true
	}

	r.defaultRoles(&c) // DEFAULT_ROLES
	r.secondFactor(&c) // DATA_KEY, ADMIN_MFA: mfa.go

	demo := getenv("DEMO_USER")
	if demo == "" && !c.Release {
		demo = "kesa:123"
	}
	if demo != "" && demo != "off" {
		name, pass, ok := strings.Cut(demo, ":")
		canon, err := utils.CanonicalUsername(name)
		switch {
		case !ok || pass == "":
			r.fail("DEMO_USER", "want name:password")
		case err != nil:
			r.fail("DEMO_USER", "%v", err)
		default:
			c.DemoUser, c.DemoPassword = canon, pass
		}
	}
	return c, r.err
}

// refreshCookieDefault is REFRESH_COOKIE's default (SPEC §3): on outside
// release mode, so the demo page of a plain `go run .` keeps its session
// across reloads; off in release mode, where a deployment chooses. It is off
// with CORS_ORIGINS=*, which cannot carry credentials: that combination is
// refused only when REFRESH_COOKIE=on is asked for explicitly.
func refreshCookieDefault(getenv func(string) string) bool {
	return getenv("GIN_MODE") != "release" && strings.TrimSpace(getenv("CORS_ORIGINS")) != "*"
}

// validOrigin reports whether o is a bare origin: http(s), a host, maybe a
// port, nothing after.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// envReader reads typed values and keeps the first error, so LoadConfig reads
// straight through and reports one line naming the variable.
type envReader struct {
	get func(string) string
	err error
}

func (r *envReader) fail(name, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.get(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	return r.durationMin(name, def, time.Second)
}

func (r *envReader) durationMin(name string, def, minimum time.Duration) time.Duration {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, "not a duration (like 15m or 168h): %q", v)
		return def
	}
	if d < minimum {
		r.fail(name, "must be at least %v, got %v", minimum, d)
		return def
	}
	return d
}

func (r *envReader) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, "want a whole number from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (r *envReader) onOff(name string, def bool) bool {
	switch v := strings.ToLower(strings.TrimSpace(r.get(name))); v {
	case "":
		return def
	case "on", "true", "1", "yes":
		return true
	case "off", "false", "0", "no":
		return false
	default:
		r.fail(name, "want on or off, got %q", v)
		return def
	}
}

func (r *envReader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.get(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tokenKeys reads the signing algorithm, the key files of the asymmetric
// ones (parsed now, so a bad file stops start-up naming its variable) and
// the introspection secret.
func (r *envReader) tokenKeys(c *global.Config) {
	alg, err := utils.ParseAlg(r.str("JWT_ALG", utils.AlgHS256))
	if err != nil {
		r.fail("JWT_ALG", "%v", err)
		return
	}
	c.JWTAlg = alg
	private, public := r.str("JWT_PRIVATE_KEY", ""), r.list("JWT_PUBLIC_KEYS")
	switch {
	case alg == utils.AlgHS256 && private != "":
		r.fail("JWT_PRIVATE_KEY", "is for JWT_ALG=EdDSA, ES256 or RS256, and JWT_ALG is HS256")
	case alg == utils.AlgHS256 && len(public) > 0:
		r.fail("JWT_PUBLIC_KEYS", "are for JWT_ALG=EdDSA, ES256 or RS256, and JWT_ALG is HS256")
	case alg == utils.AlgHS256:
	case private == "":
		r.fail("JWT_PRIVATE_KEY", "is required with JWT_ALG=%s: the PEM file of the signing key", alg)
	default:
		if c.JWTSigningKey, err = utils.ReadPrivateKey(private, alg); err != nil {
			r.fail("JWT_PRIVATE_KEY", "%v", err)
		}
		for _, p := range public {
			key, err := utils.ReadPublicKey(p, alg)
			if err != nil {
				r.fail("JWT_PUBLIC_KEYS", "%v", err)
				break
			}
			c.JWTVerifyKeys = append(c.JWTVerifyKeys, key)
		}
	}
	switch s := r.get("INTROSPECT_SECRET"); {
	case s == "":
	case len(s) < minSecretLen:
		r.fail("INTROSPECT_SECRET", "must be at least %d bytes, got %d", minSecretLen, len(s))
	case alg == utils.AlgHS256 && s == r.get("JWT_SECRET"):
		r.fail("INTROSPECT_SECRET", "must differ from JWT_SECRET: whoever holds JWT_SECRET can sign tokens")
	default:
		c.IntrospectSecret = []byte(s)
	}
}

// defaultRoles reads DEFAULT_ROLES, the roles of a new user (SPEC §10),
// validated like every role. admin is refused: with open registration
// anyone could make themselves an admin.
func (r *envReader) defaultRoles(c *global.Config) {
	list := r.list("DEFAULT_ROLES")
	if len(list) == 0 {
		list = []string{"user"}
	}
	roles, err := utils.ParseRoles(list)
	switch {
	case err != nil:
		r.fail("DEFAULT_ROLES", "%s", strings.TrimPrefix(err.Error(), global.ErrInvalidRequest.Error()+": "))
	case utils.HasRole(roles, global.RoleAdmin):
		r.fail("DEFAULT_ROLES", "must not hold %s: every new user (open registration too) would be an admin; make admins with `go-jwt user roles NAME admin`", global.RoleAdmin)
	default:
		c.DefaultRoles = roles
	}
}
