package dpop_test

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"go-jwt/test/testkit"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

// TestThumbprint: a proof's jkt is the RFC 7638 thumbprint of its key, the
// same utils.Thumbprint computes for the service's own kid, and the one
// RFC 7638 §3.1 gives for its example key.
func TestThumbprint(t *testing.T) {
	clock := testkit.NewClock()
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		k := newKey(t, alg)
		p, err := verifier(clock, nil).Check([]string{k.proof(t, clock.Now(), nil)}, resource)
		if err != nil {
			t.Fatal(err)
		}
		if p.JKT != k.jkt(t) {
			t.Fatalf("%s: jkt %q, want %q", alg, p.JKT, k.jkt(t))
		}
	}
	// RFC 7638 §3.1's example RSA key and its thumbprint.
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, _ := utils.Thumbprint(pub); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("RFC 7638 example: %q", got)
	}
}

// TestHighSIsNotAFreshProof: an ECDSA signature (r, s) also verifies as
// (r, n-s). Proofs are not held to low-S (WebCrypto signs with either), so
// the other spelling of a proof passes the check, but it is the same jti:
// the replay store refuses it once the original was used.
func TestHighSIsNotAFreshProof(t *testing.T) {
	clock := testkit.NewClock()
	es := newKey(t, "ES256")
	proof := es.proof(t, clock.Now(), nil)
	i := strings.LastIndexByte(proof, '.') + 1
	sig, _ := base64.RawURLEncoding.DecodeString(proof[i:])
	order := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(order, s).FillBytes(sig[32:])
	twin := proof[:i] + base64.RawURLEncoding.EncodeToString(sig)

	v := verifier(clock, nil)
	a, err := v.Check([]string{proof}, resource)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Check([]string{twin}, resource)
	if err != nil {
		t.Fatalf("the (r, n-s) spelling: %v", err)
	}
	if a.JTI != b.JTI || a.JKT != b.JKT {
		t.Fatal("the two spellings are not the same proof")
	}
	r := dpop.NewReplays(testkit.Backends(t)[0].Client, maxAge)
	if err := r.Use(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := r.Use(t.Context(), b); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("the twin of a used proof: %v, want replayed", err)
	}
}

func TestEd25519KeyOfWrongSize(t *testing.T) {
	clock := testkit.NewClock()
	ed := newKey(t, "EdDSA")
	p := ed.proof(t, clock.Now(), func(h, _ map[string]any) any {
		h["jwk"].(map[string]any)["x"] = base64.RawURLEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize-1))
		return nil
	})
	if _, err := verifier(clock, nil).Check([]string{p}, resource); !errors.Is(err, dpop.ErrKey) {
		t.Fatalf("31-byte Ed25519 key: %v", err)
	}
}

// TestClient: the proofs Client makes pass the check, for each algorithm,
// with ath and nonce when given, and name the client's thumbprint.
func TestClient(t *testing.T) {
	clock := testkit.NewClock()
	nonces := dpop.NewNonces(dpop.NonceKey([]byte("k")), clock.Now)
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		c, err := dpop.NewClient(testkit.Signer(t, alg), clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := c.Proof("GET", htu, access, nonces.Current())
		if err != nil {
			t.Fatal(err)
		}
		p, err := verifier(clock, nonces).Check([]string{proof}, resource)
		if err != nil || p.JKT != c.JKT() {
			t.Fatalf("%s: %v, jkt %v want %q", alg, err, p, c.JKT())
		}
	}
}
