package initialize

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const goodSecret = "0123456789abcdef0123456789abcdef"

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9090" || c.RedisAddr != "" || c.Issuer != "jwt-demo" || c.AccessTTL != 15*time.Minute ||
		c.RefreshTTL != 168*time.Hour || c.SessionMaxAge != 720*time.Hour || c.DemoUser != "kesa" || c.DemoPassword != "123" ||
		!c.SecretGenerated || len(c.JWTSecret) != 32 || !c.Registration || !c.DemoPage || !c.RefreshCookie || len(c.CORSOrigins) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	other, _ := LoadConfig(env())
	if string(other.JWTSecret) == string(c.JWTSecret) {
		t.Fatal("the generated secret is not random")
	}
	rel, err := LoadConfig(env("GIN_MODE", "release", "JWT_SECRET", goodSecret, "DATA_KEY", goodDataKey))
	if err != nil || rel.DemoUser != "" || rel.DemoPage || !rel.Release || rel.SecretGenerated || rel.RefreshCookie {
		t.Fatalf("release defaults: %+v %v", rel, err)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string // the variable the error must start with
	}{
		{"unparsable duration", []string{"ACCESS_TTL", "abc"}, "ACCESS_TTL"},
		{"zero duration", []string{"REFRESH_TTL", "0s"}, "REFRESH_TTL"},
		{"refresh shorter than access", []string{"ACCESS_TTL", "2h", "REFRESH_TTL", "1h"}, "REFRESH_TTL"},
		{"short secret", []string{"JWT_SECRET", "short"}, "JWT_SECRET"},
		{"release without a secret", []string{"GIN_MODE", "release"}, "JWT_SECRET"},
		{"redis address without port", []string{"REDIS_ADDR", "localhost"}, "REDIS_ADDR"},
		{"redis db out of range", []string{"REDIS_DB", "99"}, "REDIS_DB"},
		{"bad listen address", []string{"APP_ADDR", "9090"}, "APP_ADDR"},
		{"bad on/off", []string{"REGISTRATION", "maybe"}, "REGISTRATION"},
		{"demo user without password", []string{"DEMO_USER", "kesa"}, "DEMO_USER"},
		{"demo user with a bad name", []string{"DEMO_USER", "a{b}:pw"}, "DEMO_USER"},
		{"* with cookies", []string{"CORS_ORIGINS", "*", "REFRESH_COOKIE", "on"}, "CORS_ORIGINS"},
		{"origin with a path", []string{"CORS_ORIGINS", "https://app.example/login"}, "CORS_ORIGINS"},
		{"origin without scheme", []string{"CORS_ORIGINS", "app.example"}, "CORS_ORIGINS"},
		{"negative grace", []string{"REFRESH_REUSE_GRACE", "-1s"}, "REFRESH_REUSE_GRACE"},
		{"bad pprof address", []string{"PPROF_ADDR", "6060"}, "PPROF_ADDR"},
		{"metrics and pprof on one address", []string{"METRICS_ADDR", "127.0.0.1:6060", "PPROF_ADDR", ":6060"}, "PPROF_ADDR"},
		{"metrics on the service's address", []string{"APP_ADDR", ":9100", "METRICS_ADDR", ":9100"}, "METRICS_ADDR"},

		// Roles (SPEC §10).
		{"bad default role", []string{"DEFAULT_ROLES", "user,Reader"}, "DEFAULT_ROLES"},
		{"default role with a space", []string{"DEFAULT_ROLES", "two words"}, "DEFAULT_ROLES"},
		{"admin as a default role", []string{"DEFAULT_ROLES", "user,admin"}, "DEFAULT_ROLES"},
		{"17 default roles", []string{"DEFAULT_ROLES", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"}, "DEFAULT_ROLES"},

		// Second factor (SPEC §11).
		{"short data key", []string{"DATA_KEY", "short"}, "DATA_KEY"},
		{"release without a data key", []string{"GIN_MODE", "release", "JWT_SECRET", goodSecret}, "DATA_KEY"},
		{"data key equal to the JWT secret", []string{"JWT_SECRET", goodSecret, "DATA_KEY", goodSecret}, "DATA_KEY"},
		{"admin MFA not on or off", []string{"ADMIN_MFA", "sometimes"}, "ADMIN_MFA"},

		// Passkeys (SPEC §12): an origin off the RP ID's domain could never
		// run a ceremony, so start-up stops.
		{"passkey origin on another domain", []string{"WEBAUTHN_ORIGINS", "https://evil.example"}, "WEBAUTHN_ORIGINS"},
		{"passkey origin only ending like the RP ID", []string{"WEBAUTHN_RP_ID", "example.com", "WEBAUTHN_ORIGINS", "https://notexample.com"}, "WEBAUTHN_ORIGINS"},
		{"passkey origin on the parent of the RP ID", []string{"WEBAUTHN_RP_ID", "app.example.com", "WEBAUTHN_ORIGINS", "https://example.com"}, "WEBAUTHN_ORIGINS"},
		{"passkey origin with a path", []string{"WEBAUTHN_RP_ID", "example.com", "WEBAUTHN_ORIGINS", "https://example.com/login"}, "WEBAUTHN_ORIGINS"},
		{"passkey origin over plain http", []string{"WEBAUTHN_RP_ID", "example.com", "WEBAUTHN_ORIGINS", "http://example.com"}, "WEBAUTHN_ORIGINS"},
		{"one bad origin among good ones", []string{"WEBAUTHN_RP_ID", "example.com", "WEBAUTHN_ORIGINS", "https://example.com,https://example.org"}, "WEBAUTHN_ORIGINS"},
		{"RP ID with a scheme", []string{"WEBAUTHN_RP_ID", "https://example.com"}, "WEBAUTHN_RP_ID"},
		{"RP ID with a port", []string{"WEBAUTHN_RP_ID", "example.com:443"}, "WEBAUTHN_RP_ID"},
		{"RP ID an IP address", []string{"WEBAUTHN_RP_ID", "127.0.0.1", "WEBAUTHN_ORIGINS", "http://127.0.0.1:9090"}, "WEBAUTHN_RP_ID"},
		{"default origin with another RP ID", []string{"WEBAUTHN_RP_ID", "example.com"}, "WEBAUTHN_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(env(tt.env...))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want+":") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line starting with %s:", err, tt.want)
			}
		})
	}
}

// Port 0 is a free port for each listener: not one address shared.
func TestListenersMayEachAskForAFreePort(t *testing.T) {
	c, err := LoadConfig(env("APP_ADDR", "127.0.0.1:0", "METRICS_ADDR", "127.0.0.1:0", "PPROF_ADDR", "127.0.0.1:0"))
	if err != nil || c.Addr != "127.0.0.1:0" || c.MetricsAddr != "127.0.0.1:0" || c.PprofAddr != "127.0.0.1:0" {
		t.Fatalf("three listeners on port 0: %+v, %v", c, err)
	}
}

func TestPprofDefaultsToLoopback(t *testing.T) {
	c, err := LoadConfig(env("PPROF_ADDR", ":6060"))
	if err != nil || c.PprofAddr != "127.0.0.1:6060" {
		t.Fatalf("PPROF_ADDR :6060 → %q, %v", c.PprofAddr, err)
	}
}

func TestDefaultRoles(t *testing.T) {
	for in, want := range map[string][]string{"": {"user"}, "reader, user,reader": {"reader", "user"}, "guest": {"guest"}} {
		c, err := LoadConfig(env("DEFAULT_ROLES", in))
		if err != nil || !slices.Equal(c.DefaultRoles, want) {
			t.Errorf("DEFAULT_ROLES=%q: %v %v, want %v", in, c.DefaultRoles, err, want)
		}
	}
}

const goodDataKey = "fedcba9876543210fedcba9876543210"

func TestSecondFactorConfig(t *testing.T) {
	def, err := LoadConfig(env())
	if err != nil || !def.DataKeyGenerated || len(def.DataKey) != 32 || def.AdminMFA {
		t.Fatalf("defaults: generated %v, %d bytes, ADMIN_MFA %v, %v", def.DataKeyGenerated, len(def.DataKey), def.AdminMFA, err)
	}
	other, _ := LoadConfig(env())
	if string(other.DataKey) == string(def.DataKey) || string(def.DataKey) == string(def.JWTSecret) {
		t.Fatal("the generated DATA_KEY is not random and its own")
	}
	set, err := LoadConfig(env("DATA_KEY", goodDataKey, "ADMIN_MFA", "on"))
	if err != nil || set.DataKeyGenerated || string(set.DataKey) != goodDataKey || !set.AdminMFA {
		t.Fatalf("DATA_KEY and ADMIN_MFA set: %q generated %v, ADMIN_MFA %v, %v", set.DataKey, set.DataKeyGenerated, set.AdminMFA, err)
	}
}

func TestWebAuthnConfig(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil || c.WebAuthnRPID != "localhost" || c.WebAuthnRPName != "go-jwt" ||
		len(c.WebAuthnOrigins) != 1 || c.WebAuthnOrigins[0] != "http://localhost:9090" {
		t.Fatalf("passkey defaults: %q %q %q, %v", c.WebAuthnRPID, c.WebAuthnRPName, c.WebAuthnOrigins, err)
	}
	// A real domain: the site itself and an app on a subdomain.
	c, err = LoadConfig(env("WEBAUTHN_RP_ID", "Example.com", "WEBAUTHN_RP_NAME", "Example",
		"WEBAUTHN_ORIGINS", "https://app.example.com, https://example.com:8443"))
	if err != nil || c.WebAuthnRPID != "example.com" || c.WebAuthnRPName != "Example" ||
		strings.Join(c.WebAuthnOrigins, " ") != "https://app.example.com https://example.com:8443" {
		t.Fatalf("real domain: %q %q %q, %v", c.WebAuthnRPID, c.WebAuthnRPName, c.WebAuthnOrigins, err)
	}
	// Plain http is a secure context on localhost and its subdomains only.
	if _, err := LoadConfig(env("WEBAUTHN_ORIGINS", "http://localhost:5173,http://app.localhost:9090")); err != nil {
		t.Fatalf("localhost over http: %v", err)
	}
}

func TestRefreshCookieDefault(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want bool
	}{
		{"on outside release mode", nil, true},
		{"off in release mode", []string{"GIN_MODE", "release", "JWT_SECRET", goodSecret, "DATA_KEY", goodDataKey}, false},
		{"off when asked", []string{"REFRESH_COOKIE", "off"}, false},
		{"on in release mode when asked", []string{"GIN_MODE", "release", "JWT_SECRET", goodSecret, "DATA_KEY", goodDataKey, "REFRESH_COOKIE", "on"}, true},
		{"off by default with CORS_ORIGINS=*, which cannot carry credentials", []string{"CORS_ORIGINS", "*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(env(tt.env...))
			if err != nil || c.RefreshCookie != tt.want {
				t.Fatalf("REFRESH_COOKIE = %v (%v), want %v", c.RefreshCookie, err, tt.want)
			}
		})
	}
}
