package utils

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v4"
)

// The signing algorithms of JWT_ALG (RFC 7518 and RFC 8037 names).
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// errUnknownKey: the token's kid names none of the verification keys.
var errUnknownKey = errors.New("unknown key id")

// Keys is the token codec's key material. For HS256 it is the shared
// secret. For EdDSA, ES256 and RS256 it is the private signing key and
// every public key a token is accepted under, each by its kid: the signing
// key's own, and older ones kept while their tokens may still be around (a
// rotation logs nobody out). All keys of a set are of its one algorithm.
type Keys struct {
	alg    string
	method jwt.SigningMethod
	secret []byte
	signer crypto.Signer
	kid    string
	byKID  map[string]crypto.PublicKey
	jwks   []JWK // the signing key first
}

// JWK is a public key as a JWK Set publishes it (RFC 7517; OKP: RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// NewHMACKeys returns the key set of HS256 with secret. Its tokens carry
// no kid and it publishes no key.
func NewHMACKeys(secret []byte) *Keys {
	return &Keys{alg: AlgHS256, method: jwt.SigningMethodHS256, secret: secret, jwks: []JWK{}}
}

// NewKeys returns the key set of the asymmetric algorithm alg (EdDSA, ES256
// or RS256): tokens are signed with signer under its kid, and verified with
// signer's public key or one of extra, chosen by the token's kid. Each kid is
// the key's RFC 7638 thumbprint, so every instance derives the same one.
func NewKeys(alg string, signer crypto.Signer, extra ...crypto.PublicKey) (*Keys, error) {
	k := &Keys{alg: alg, signer: signer, byKID: map[string]crypto.PublicKey{}, jwks: []JWK{}}
	switch alg {
	case AlgEdDSA:
		k.method = jwt.SigningMethodEdDSA
	case AlgES256:
		k.method = jwt.SigningMethodES256
	case AlgRS256:
		k.method = jwt.SigningMethodRS256
	default:
		return nil, fmt.Errorf("%q is not an asymmetric algorithm (EdDSA, ES256, RS256)", alg)
	}
	if signer == nil {
		return nil, errors.New("no signing key")
	}
	// jwt/v4 signs ES256 and RS256 only with the standard library's types.
	switch signer.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, fmt.Errorf("unsupported signing key type %T", signer)
	}
	for i, pub := range append([]crypto.PublicKey{signer.Public()}, extra...) {
		jwk, err := toJWK(alg, pub)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			k.kid = jwk.Kid
		}
		if _, dup := k.byKID[jwk.Kid]; dup {
			continue
		}
		k.byKID[jwk.Kid] = pub
		k.jwks = append(k.jwks, jwk)
	}
	return k, nil
}

// Alg is the one algorithm tokens are signed and accepted with.
func (k *Keys) Alg() string { return k.alg }

// KeyID is the kid of the signing key ("" for HS256).
func (k *Keys) KeyID() string { return k.kid }

// JWKS returns the public keys to publish, the signing key first; none for
// HS256, whose key is secret.
func (k *Keys) JWKS() []JWK { return append([]JWK{}, k.jwks...) }

// signingKey is what jwt/v4 signs with.
func (k *Keys) signingKey() any {
	if k.secret != nil {
		return k.secret
	}
	return k.signer
}

// verificationKey is the jwt.Keyfunc: the secret, or the public key the
// token's kid names. The algorithm was checked before (the parser accepts
// only k.alg), and every key of the set is of that algorithm.
func (k *Keys) verificationKey(t *jwt.Token) (any, error) {
	if k.secret != nil {
		return k.secret, nil
	}
	if kid, ok := t.Header["kid"].(string); ok {
		if pub, ok := k.byKID[kid]; ok {
			return pub, nil
		}
	}
	return nil, errUnknownKey
}

// ParseAlg returns the canonical spelling of a JWT_ALG value (any case).
func ParseAlg(s string) (string, error) {
	for _, a := range []string{AlgHS256, AlgEdDSA, AlgES256, AlgRS256} {
		if strings.EqualFold(s, a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("want HS256, EdDSA, ES256 or RS256, got %q", s)
}

// ReadPrivateKey reads a PEM signing key for alg from path: PKCS #8
// ("PRIVATE KEY", what `openssl genpkey` writes), SEC 1 ("EC PRIVATE KEY")
// or PKCS #1 ("RSA PRIVATE KEY"), unencrypted.
func ReadPrivateKey(path, alg string) (crypto.Signer, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("%s holds a public key: the signing key is the private one", path)
	default:
		return nil, fmt.Errorf("%s: unexpected PEM block %q", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
	}
	if err := checkKey(alg, signer.Public()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return signer, nil
}

// ReadPublicKey reads a PEM public key for alg from path: PKIX ("PUBLIC
// KEY", what `openssl pkey -pubout` writes) or PKCS #1 ("RSA PUBLIC KEY").
func ReadPublicKey(path, alg string) (crypto.PublicKey, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var key any
	switch b.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("%s holds a private key: give its public key (openssl pkey -in %s -pubout)", path, path)
	default:
		return nil, fmt.Errorf("%s: unexpected PEM block %q", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkKey(alg, key); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// readPEM returns the one key block of the PEM file at path (an "EC
// PARAMETERS" block before it, as `openssl ecparam -genkey` writes, is
// skipped).
func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, err
	}
	var key *pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "EC PARAMETERS" {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("%s holds more than one key: one key a file", path)
		}
		key = b
	}
	switch {
	case key == nil:
		return nil, fmt.Errorf("%s: no PEM key found", path)
	case strings.Contains(key.Type, "ENCRYPTED") || strings.Contains(key.Headers["Proc-Type"], "ENCRYPTED"):
		return nil, fmt.Errorf("%s: encrypted keys are not supported", path)
	}
	return key, nil
}

// checkKey reports whether pub is a key of alg: Ed25519 for EdDSA, P-256
// for ES256, RSA of at least 2048 bits for RS256.
func checkKey(alg string, pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case ed25519.PublicKey:
		ok = alg == AlgEdDSA && len(k) == ed25519.PublicKeySize
	case *ecdsa.PublicKey:
		ok = alg == AlgES256 && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		if alg == AlgRS256 && k.N.BitLen() < minRSABits {
			return fmt.Errorf("an RSA key of %d bits: RS256 wants at least %d", k.N.BitLen(), minRSABits)
		}
		ok = alg == AlgRS256
	}
	if !ok {
		return fmt.Errorf("%s is not a key for JWT_ALG=%s (EdDSA: Ed25519, ES256: EC P-256, RS256: RSA)", keyKind(pub), alg)
	}
	return nil
}

func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "an Ed25519 key"
	case *ecdsa.PublicKey:
		return "an EC " + k.Params().Name + " key"
	case *rsa.PublicKey:
		return "an RSA key"
	default:
		return fmt.Sprintf("a %T", pub)
	}
}

// toJWK returns pub as the JWK of alg, kid included.
func toJWK(alg string, pub crypto.PublicKey) (JWK, error) {
	if err := checkKey(alg, pub); err != nil {
		return JWK{}, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	var j JWK
	switch k := pub.(type) {
	case ed25519.PublicKey:
		j = JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k)}
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || x || y, each 32 bytes
		if err != nil {
			return JWK{}, err
		}
		j = JWK{Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:])}
	case *rsa.PublicKey:
		j = JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
	}
	j.Kid, j.Use, j.Alg = thumbprint(j), "sig", alg
	return j, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of pub (SHA-256, base64url):
// the kid under which the service signs with that key and publishes it.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	var alg string
	switch pub.(type) {
	case ed25519.PublicKey:
		alg = AlgEdDSA
	case *ecdsa.PublicKey:
		alg = AlgES256
	case *rsa.PublicKey:
		alg = AlgRS256
	}
	j, err := toJWK(alg, pub)
	return j.Kid, err
}

// thumbprint hashes the key's required members, in lexicographic order and
// without whitespace (RFC 7638 §3.2). The values are base64url: nothing to
// escape.
func thumbprint(j JWK) string {
	var members string
	switch j.Kty {
	case "OKP":
		members = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
	case "EC":
		members = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
	case "RSA":
		members = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
	}
	sum := sha256.Sum256([]byte(members))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// An ECDSA signature (r, s) verifies as (r, n-s) as well: a second spelling
// of every ES256 token, that the codec never issued and that would be a new
// entry of its verified-token cache. So the codec issues only s <= n/2 and
// refuses the other (as Bitcoin's BIP 62 does); any verifier accepts both.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// lowS rewrites the ES256 token's signature to its s <= n/2 form.
func lowS(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	sig, err := base64.RawURLEncoding.DecodeString(token[i:])
	if err != nil || len(sig) != 64 {
		return token
	}
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfOrder) <= 0 {
		return token
	}
	s.Sub(p256Order, s).FillBytes(sig[32:])
	return token[:i] + base64.RawURLEncoding.EncodeToString(sig)
}

// isLowS reports whether the ES256 token's signature has s <= n/2.
func isLowS(token string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
	return err == nil && len(sig) == 64 && new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfOrder) <= 0
}
