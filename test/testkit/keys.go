package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// Signer generates a fresh signing key for alg: "EdDSA" (Ed25519), "ES256"
// (P-256) or "RS256" (RSA, 2048 bits).
func Signer(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil || k == nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return k
}

// WritePEM writes one PEM block to a file of t.TempDir() and returns its path.
func WritePEM(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// KeyFiles writes k as PKCS #8 PEM and its public key as PKIX PEM, the way
// `openssl genpkey` and `openssl pkey -pubout` do, and returns both paths.
func KeyFiles(t testing.TB, k crypto.Signer) (private, public string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return WritePEM(t, "key.pem", "PRIVATE KEY", der), WritePEM(t, "key.pub.pem", "PUBLIC KEY", pub)
}
