package dpop_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// BenchmarkCheck is the CPU of one proof check (ES256): go test -run '^$'
// -bench Check ./utils/dpop/
func BenchmarkCheck(b *testing.B) {
	clock := testkit.NewClock()
	c, err := dpop.NewClient(testkit.Signer(b, "ES256"), clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	proof, err := c.Proof("GET", htu, access, "")
	if err != nil {
		b.Fatal(err)
	}
	v := verifier(clock, nil)
	headers := []string{proof}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Check(headers, resource); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignatureVerify is the floor under a proof check: one signature
// verification with the standard library, nothing else (docs/BENCHMARKS.md,
// "What the limit is now").
func BenchmarkSignatureVerify(b *testing.B) {
	msg := []byte("eyJhbGciOiJFUzI1NiIsInR5cCI6ImRwb3Arand0In0.eyJodG0iOiJHRVQifQ")
	b.Run("ES256", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			sum := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("EdDSA", func(b *testing.B) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		sig := ed25519.Sign(priv, msg)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
}
