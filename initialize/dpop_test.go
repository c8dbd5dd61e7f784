package initialize

import (
	"strings"
	"testing"
	"time"
)

func TestDPoPConfig(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil || c.DPoP != "optional" || c.DPoPMaxAge != 60*time.Second || c.DPoPNonce || c.PublicURL != "" {
		t.Fatalf("DPoP defaults: %q %v %v %q, %v", c.DPoP, c.DPoPMaxAge, c.DPoPNonce, c.PublicURL, err)
	}
	c, err = LoadConfig(env("DPOP", "Required", "DPOP_MAX_AGE", "30s", "DPOP_NONCE", "on", "PUBLIC_URL", "https://auth.example.com"))
	if err != nil || c.DPoP != "required" || c.DPoPMaxAge != 30*time.Second || !c.DPoPNonce || c.PublicURL != "https://auth.example.com" {
		t.Fatalf("DPoP settings: %q %v %v %q, %v", c.DPoP, c.DPoPMaxAge, c.DPoPNonce, c.PublicURL, err)
	}
	for _, tt := range []struct{ name, key, value string }{
		{"unknown mode", "DPOP", "sometimes"},
		{"max age not a duration", "DPOP_MAX_AGE", "a minute"},
		{"max age too long", "DPOP_MAX_AGE", "1h"},
		{"nonce not on/off", "DPOP_NONCE", "maybe"},
		{"public URL without scheme", "PUBLIC_URL", "auth.example.com"},
		{"public URL with a query", "PUBLIC_URL", "https://auth.example.com/?x=1"},
		{"junk trusted proxy", "TRUSTED_PROXIES", "10.0.0.0/8,proxy.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(env(tt.key, tt.value))
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+":") {
				t.Fatalf("err = %v, want one starting with %s:", err, tt.key)
			}
		})
	}
}
