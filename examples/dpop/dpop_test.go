package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

// service runs the real router with env: what the example talks to.
func service(t *testing.T, env map[string]string) string { return testkit.Service(t, env) }

// TestExample runs the example against the real service, with and without
// server nonces: a DPoP pair, and the greeting with it.
func TestExample(t *testing.T) {
	for name, env := range map[string]map[string]string{"DPoP": nil, "DPoP with nonces": {"DPOP_NONCE": "on"}} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(t.Context(), []string{"-api", service(t, env)}, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != "DPoP\nWelcome ! kesa\n" {
				t.Fatalf("printed %q", out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-api", service(t, nil), "-password", "wrong"}, &out); err == nil || out.Len() > 0 {
		t.Fatalf("a wrong password: %q, %v", out.String(), err)
	}
}

// TestStolenTokenIsUseless: the example's bound token, sent without its
// key's proof or with a proof by another key, is refused.
func TestStolenTokenIsUseless(t *testing.T) {
	api := service(t, nil)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{Key: key, HTTP: http.DefaultClient}
	res, err := c.Do(t.Context(), "POST", api+"/public/login", "username=kesa&password=123", "")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.Split(string(res), `"accessToken":"`)[1]
	token = token[:strings.IndexByte(token, '"')]
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, header := range map[string]func(*http.Request){
		"as Bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) },
		"with another key's proof": func(r *http.Request) {
			proof, err := Proof(thief, "GET", api+"/user/welcome", token, "")
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", proof)
		},
	} {
		r, _ := http.NewRequestWithContext(t.Context(), "GET", api+"/user/welcome", nil)
		header(r)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("stolen token %s: %d, want 401", name, resp.StatusCode)
		}
	}
}
