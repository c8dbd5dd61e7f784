package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
)

// service runs the real router with EdDSA and returns its URL: the test
// verifies what the service itself issues and publishes.
func service(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testkit.Service(t, map[string]string{"JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": path})
}

// login returns the demo user's token pair from the service.
func login(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	resp, err := http.PostForm(base+"/public/login", url.Values{"username": {"kesa"}, "password": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var p struct{ AccessToken, RefreshToken string }
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s, %v", resp.Status, err)
	}
	return p.AccessToken, p.RefreshToken
}

func TestVerify(t *testing.T) {
	base := service(t)
	access, refresh := login(t, base)
	jwks := base + "/.well-known/jwks.json"
	// tamper flips one character of the payload: the signature no longer fits.
	tamper := func(tok string) string {
		i := strings.IndexByte(tok, '.') + 5
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		return tok[:i] + string(c) + tok[i+1:]
	}
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"access token issued by the service", []string{"-jwks", jwks, access}, true},
		{"tampered token", []string{"-jwks", jwks, tamper(access)}, false},
		{"refresh token", []string{"-jwks", jwks, refresh}, false},
		{"another issuer expected", []string{"-jwks", jwks, "-iss", "someone-else", access}, false},
		{"another algorithm pinned", []string{"-jwks", jwks, "-alg", "RS256", access}, false},
		{"no JWK Set there", []string{"-jwks", base + "/public/ping", access}, false},
		{"no token", []string{"-jwks", jwks}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tt.args, &out)
			if tt.ok && (err != nil || out.String() != "kesa\n") {
				t.Fatalf("printed %q, %v; want kesa", out.String(), err)
			}
			if !tt.ok && (err == nil || out.Len() > 0) {
				t.Fatalf("printed %q, %v; want an error and nothing printed", out.String(), err)
			}
		})
	}
}

func TestVerifyRefusesExpired(t *testing.T) {
	base := service(t)
	access, _ := login(t, base)
	keys, err := FetchKeys(t.Context(), http.DefaultClient, base+"/.well-known/jwks.json", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(access, keys, "EdDSA", "jwt-demo", time.Now().Add(16*time.Minute)); err == nil {
		t.Fatal("accepted an access token 16 minutes later")
	}
	if name, err := Verify(access, keys, "EdDSA", "jwt-demo", time.Now()); err != nil || name != "kesa" {
		t.Fatalf("now: %q, %v", name, err)
	}
}
