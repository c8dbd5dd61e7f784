package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strings"

	"go-jwt/utils"
)

// A proof is checked here without jwt/v4, which decoded every header into a
// map and looked its jwk up again per proof: a client sends every proof
// with one header (typ, alg and its jwk), so what the header yields — the
// key, its thumbprint and alg — is worked out once, after the header passed
// every check and a proof with it verified, and kept in a bounded cache
// keyed by the exact header segment. A cached entry is a pure function of its key's bytes: nothing a
// client sends can make another header's entry say something else, and a
// header that was refused is never stored, so it is refused again for the
// same reason. The signature over header.payload is verified on every
// proof, with the cached key under the cached alg (both spelled in those
// very header bytes), and the claims are decoded and checked on every proof.

// headerCacheSize bounds the cache of checked proof headers: one entry per
// client key in use.
const headerCacheSize = 4096

// maxCachedHeader is the longest header segment cached (an RSA-4096 header
// is about 1 KB), so that the cache holds at most headerCacheSize of them:
// longer ones are checked in full on every proof.
const maxCachedHeader = 2048

// checkedHeader is what a header that passed every check yields.
type checkedHeader struct {
	alg string
	key any // *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey, per alg
	jkt string
}

// segments splits a compact JWS into its three segments.
func segments(proof string) (head, payload, sig string, ok bool) {
	head, rest, ok := strings.Cut(proof, ".")
	if !ok {
		return "", "", "", false
	}
	payload, sig, ok = strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return "", "", "", false
	}
	return head, payload, sig, true
}

// decodeSegment decodes s, refusing any but the one unpadded base64url
// spelling of its bytes: the decoder would skip CR and LF (the length test
// catches those) and, not Strict, ignore the unused low bits of the last
// character.
func decodeSegment(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil && base64.RawURLEncoding.EncodedLen(len(b)) == len(s)
}

// header returns what head yields, from the cache (cached true) or by
// checking it: a JSON object whose alg is one of Algs (ErrAlgorithm), whose
// typ is dpop+jwt (ErrType) and whose jwk is a public key fitting alg
// (publicKey: ErrKey, ErrPrivateKey).
func (v *Verifier) header(head string) (h checkedHeader, cached bool, err error) {
	if h, ok := v.headers.Get(head); ok {
		return h, true, nil
	}
	raw, ok := decodeSegment(head)
	if !ok {
		return checkedHeader{}, false, ErrMalformed
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return checkedHeader{}, false, ErrMalformed
	}
	alg, _ := m["alg"].(string)
	if !slices.Contains(strings.Fields(Algs), alg) {
		return checkedHeader{}, false, ErrAlgorithm
	}
	if typ, _ := m["typ"].(string); !strings.EqualFold(typ, "dpop+jwt") {
		return checkedHeader{}, false, ErrType
	}
	key, jkt, err := publicKey(m["jwk"], alg)
	if err != nil {
		return checkedHeader{}, false, err
	}
	return checkedHeader{alg: alg, key: key, jkt: jkt}, false, nil
}

// remember caches h for head, once a proof with head verified: so only
// headers whose key signed something take a place in the cache.
func (v *Verifier) remember(head string, h checkedHeader) {
	if len(head) <= maxCachedHeader {
		v.headers.Add(strings.Clone(head), h) // not a slice of the whole proof
	}
}

// verify reports whether sig is h's signature of signing: ES256 as r || s
// of 32 bytes each (RFC 7518 §3.4, not ASN.1), EdDSA as Ed25519 (RFC 8037),
// RS256 as RSASSA-PKCS1-v1_5 with SHA-256.
func (h checkedHeader) verify(signing string, sig []byte) bool {
	switch h.alg {
	case utils.AlgES256:
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256([]byte(signing))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(h.key.(*ecdsa.PublicKey), sum[:], r, s)
	case utils.AlgEdDSA:
		return ed25519.Verify(h.key.(ed25519.PublicKey), []byte(signing), sig)
	case utils.AlgRS256:
		sum := sha256.Sum256([]byte(signing))
		return rsa.VerifyPKCS1v15(h.key.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
	}
	return false
}
