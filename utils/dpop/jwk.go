package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"math/big"

	"go-jwt/utils"
)

// maxRSABits bounds the RSA keys a proof may bring: verification cost grows
// with the modulus, and a client chooses it.
const maxRSABits = 4096

// privateMembers are the JWK members of private or symmetric keys (RFC
// 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a proof carrying any of them is
// refused (RFC 9449 §4.3 point 7), whatever else it holds.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicKey turns a proof's jwk header into the public key of alg that
// jwt/v4 verifies with, and its RFC 7638 thumbprint (utils.Thumbprint, the
// one the service's own kid uses). The key type must fit alg: ES256 an EC
// P-256 key, EdDSA an Ed25519 key, RS256 an RSA key of 2048 to 4096 bits.
func publicKey(header any, alg string) (any, string, error) {
	m, ok := header.(map[string]any)
	if !ok {
		return nil, "", ErrKey
	}
	for _, name := range privateMembers {
		if _, has := m[name]; has {
			return nil, "", ErrPrivateKey
		}
	}
	member := func(name string) []byte {
		s, _ := m[name].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	kty, _ := m["kty"].(string)
	crv, _ := m["crv"].(string)
	var key any
	switch {
	case alg == utils.AlgES256 && kty == "EC" && crv == "P-256":
		x, y := member("x"), member("y")
		if len(x) != 32 || len(y) != 32 {
			return nil, "", ErrKey
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil { // not on the curve
			return nil, "", ErrKey
		}
		key = pub
	case alg == utils.AlgEdDSA && kty == "OKP" && crv == "Ed25519":
		x := member("x")
		if len(x) != ed25519.PublicKeySize {
			return nil, "", ErrKey
		}
		key = ed25519.PublicKey(x)
	case alg == utils.AlgRS256 && kty == "RSA":
		n, e := new(big.Int).SetBytes(member("n")), new(big.Int).SetBytes(member("e"))
		// e: odd, at least 3, fitting an int (Go's rsa wants that).
		if n.BitLen() > maxRSABits || e.BitLen() > 31 || e.Bit(0) == 0 || e.Int64() < 3 {
			return nil, "", ErrKey
		}
		key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	default:
		return nil, "", ErrKey
	}
	jkt, err := utils.Thumbprint(key) // also refuses RSA under 2048 bits
	if err != nil {
		return nil, "", ErrKey
	}
	return key, jkt, nil
}
