package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"go-jwt/initialize"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// keyFiles generates a key of alg and writes it to t.TempDir() (private
// key as PKCS #8 PEM, public key as PKIX PEM); kid is its thumbprint.
func keyFiles(t testing.TB, alg string) (private, public, kid string) {
	t.Helper()
	k := testkit.Signer(t, alg)
	private, public = testkit.KeyFiles(t, k)
	kid, err := utils.Thumbprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return private, public, kid
}

// asymmetricEnv is the harness environment of alg signing with the key in
// private, accepting the public key files extra too, with no JWT_SECRET.
func asymmetricEnv(alg, private string, extra ...string) map[string]string {
	return map[string]string{"JWT_ALG": alg, "JWT_PRIVATE_KEY": private, "JWT_PUBLIC_KEYS": strings.Join(extra, ","), "JWT_SECRET": ""}
}

// tokenHeader decodes a token's JOSE header.
func tokenHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

type jwkSet struct {
	Keys []map[string]string `json:"keys"`
}

func TestJWKS(t *testing.T) {
	b := testkit.Backends(t)[0]
	t.Run("HS256 publishes no key", func(t *testing.T) {
		w := newHarness(t, b, nil).do(req{method: "GET", path: "/.well-known/jwks.json"})
		expect(t, w, 200, `{"keys":[]}`)
		if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
			t.Fatalf("Cache-Control %q", got)
		}
	})
	want := map[string]map[string]bool{ // the members of each key type
		utils.AlgEdDSA: {"kty": true, "crv": true, "x": true, "kid": true, "use": true, "alg": true},
		utils.AlgES256: {"kty": true, "crv": true, "x": true, "y": true, "kid": true, "use": true, "alg": true},
		utils.AlgRS256: {"kty": true, "n": true, "e": true, "kid": true, "use": true, "alg": true},
	}
	for _, alg := range []string{utils.AlgEdDSA, utils.AlgES256, utils.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			private, _, kid := keyFiles(t, alg)
			_, oldPublic, oldKID := keyFiles(t, alg)
			w := newHarness(t, b, asymmetricEnv(alg, private, oldPublic)).do(req{method: "GET", path: "/.well-known/jwks.json"})
			expect(t, w, 200, "")
			if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
				t.Fatalf("Cache-Control %q", got)
			}
			var set jwkSet
			if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 || set.Keys[0]["kid"] != kid || set.Keys[1]["kid"] != oldKID {
				t.Fatalf("keys %v, want the signing key %s then the old one %s", set.Keys, kid, oldKID)
			}
			for _, k := range set.Keys {
				if k["alg"] != alg || k["use"] != "sig" || len(k) != len(want[alg]) {
					t.Fatalf("key %v", k)
				}
				for member := range k {
					if !want[alg][member] {
						t.Fatalf("key %v has member %q: only public members may be published", k, member)
					}
				}
			}
		})
	}
}

// TestAsymmetricTutorialSession runs the tutorial's session with each
// asymmetric algorithm and no JWT_SECRET: tokens carry the signing key's kid.
func TestAsymmetricTutorialSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		for _, alg := range []string{utils.AlgEdDSA, utils.AlgES256, utils.AlgRS256} {
			t.Run(alg, func(t *testing.T) {
				private, _, kid := keyFiles(t, alg)
				h := newHarness(t, b, asymmetricEnv(alg, private))
				p := h.login()
				for _, tok := range []string{p.AccessToken, p.RefreshToken} {
					if hd := tokenHeader(t, tok); hd["alg"] != alg || hd["kid"] != kid {
						t.Fatalf("header %v, want alg %s, kid %s", hd, alg, kid)
					}
				}
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 200, "Welcome ! "+h.user)
				np := decodePair(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 401, "invalid_token")
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+h.user)
				expect(t, h.do(req{method: "GET", path: "/user/logout", header: bearer(np.AccessToken)}), 200, "Logout success")
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 401, "invalid_token")
			})
		}
	})
}

// TestKeyRotation follows docs/SCALING.md: instances signing with a new key
// and still accepting the old one keep everybody logged in; once the old key
// is dropped its tokens are refused.
func TestKeyRotation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		const alg = utils.AlgEdDSA
		oldPrivate, oldPublic, oldKID := keyFiles(t, alg)
		newPrivate, newPublic, newKID := keyFiles(t, alg)

		before := newHarness(t, b, asymmetricEnv(alg, oldPrivate))
		// Step 1: the new public key is accepted everywhere before it signs.
		prepared := newHarness(t, b, asymmetricEnv(alg, oldPrivate, newPublic))
		// Step 2: the new key signs; the old one is still accepted.
		rotated := newHarness(t, b, asymmetricEnv(alg, newPrivate, oldPublic))
		// Step 3, after the longest refresh TTL: the old key is gone.
		after := newHarness(t, b, asymmetricEnv(alg, newPrivate))

		p := before.login()
		expect(t, rotated.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 200, "Welcome ! "+before.user)
		np := decodePair(t, rotated.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
		if got := tokenHeader(t, np.AccessToken)["kid"]; got != newKID {
			t.Fatalf("rotated pair kid %v, want the new key's %s (old %s)", got, newKID, oldKID)
		}
		expect(t, prepared.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+before.user)
		expect(t, before.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 401, "invalid_token")

		late := before.login() // signed with the old key, never refreshed
		expect(t, after.do(req{method: "GET", path: "/user/welcome", header: bearer(late.AccessToken)}), 401, "invalid_token")
		expect(t, after.do(req{method: "GET", path: "/public/refresh", header: bearer(late.RefreshToken)}), 401, "invalid_token")
		expect(t, after.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+before.user)
	})
}

// TestStartupKeySettings: a bad key setting stops start-up with one line
// naming the variable; an asymmetric algorithm needs no JWT_SECRET, even
// in release mode.
func TestStartupKeySettings(t *testing.T) {
	edPrivate, edPublic, _ := keyFiles(t, utils.AlgEdDSA)
	ecPrivate, ecPublic, _ := keyFiles(t, utils.AlgES256)
	const secret = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable the error starts with; "" for accepted
	}{
		{"EdDSA in release mode without JWT_SECRET", map[string]string{"GIN_MODE": "release", "JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPrivate, "DATA_KEY": dataKey}, ""},
		{"algorithm in another case", map[string]string{"JWT_ALG": "es256", "JWT_PRIVATE_KEY": ecPrivate, "JWT_PUBLIC_KEYS": ecPublic + " , " + ecPublic}, ""},
		{"HS256 in release mode still needs JWT_SECRET", map[string]string{"GIN_MODE": "release", "JWT_ALG": "HS256"}, "JWT_SECRET"},
		{"unknown algorithm", map[string]string{"JWT_ALG": "HS512", "JWT_SECRET": secret}, "JWT_ALG"},
		{"alg none", map[string]string{"JWT_ALG": "none"}, "JWT_ALG"},
		{"asymmetric without a key", map[string]string{"JWT_ALG": "EdDSA"}, "JWT_PRIVATE_KEY"},
		{"missing key file", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPrivate + ".gone"}, "JWT_PRIVATE_KEY"},
		{"key of another algorithm", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": ecPrivate}, "JWT_PRIVATE_KEY"},
		{"public key as the signing key", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPublic}, "JWT_PRIVATE_KEY"},
		{"extra key of another algorithm", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPrivate, "JWT_PUBLIC_KEYS": ecPublic}, "JWT_PUBLIC_KEYS"},
		{"extra key file missing", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPrivate, "JWT_PUBLIC_KEYS": edPublic + ",nope.pem"}, "JWT_PUBLIC_KEYS"},
		{"private key with HS256", map[string]string{"JWT_SECRET": secret, "JWT_PRIVATE_KEY": edPrivate}, "JWT_PRIVATE_KEY"},
		{"public keys with HS256", map[string]string{"JWT_SECRET": secret, "JWT_PUBLIC_KEYS": edPublic}, "JWT_PUBLIC_KEYS"},
		{"short introspection secret", map[string]string{"INTROSPECT_SECRET": "short"}, "INTROSPECT_SECRET"},
		{"introspection secret equal to JWT_SECRET", map[string]string{"JWT_SECRET": secret, "INTROSPECT_SECRET": secret}, "INTROSPECT_SECRET"},
		{"introspection secret with EdDSA", map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": edPrivate, "INTROSPECT_SECRET": secret}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := initialize.LoadConfig(func(k string) string { return tt.env[k] })
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.SecretGenerated || cfg.JWTSigningKey == nil {
					t.Fatalf("config %s, generated secret %v", cfg.JWTAlg, cfg.SecretGenerated)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want+": ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line starting with %s:", err, tt.want)
			}
		})
	}
}
