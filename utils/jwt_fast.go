package utils

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
	"sync"

	gojson "github.com/goccy/go-json"
	"github.com/golang-jwt/jwt/v4"
)

// The codec's fast path. jwt/v4 decodes every token's header into a map and
// its claims through a json.Decoder before it checks the signature: three
// quarters of a first verification (a refresh token is always verified
// for the first time). Tokens this codec signed carry one header segment,
// byte for byte (JWT.header), so for those alg and kid are known without
// decoding anything: the signature is checked first, with the key of that
// kid, and only then are the claims decoded. Anything else — another header
// (a kid of JWT_PUBLIC_KEYS, a forged alg), a bad signature, claims that do
// not decode — goes to jwt/v4's full parse, which gives the same answer and
// the same error as before. HS256 signatures are made and checked with
// pooled HMAC states instead of a new one per token.

// fastKeys is what the fast path verifies with, worked out once.
type fastKeys struct {
	key  any        // the verification key of the codec's own kid; nil: no fast path
	macs *sync.Pool // of hash.Hash: HMAC-SHA256 with the secret (HS256 only)
}

func newFastKeys(keys *Keys) fastKeys {
	header := map[string]any{"alg": keys.alg}
	if keys.kid != "" {
		header["kid"] = keys.kid
	}
	key, err := keys.verificationKey(&jwt.Token{Header: header})
	if err != nil {
		return fastKeys{}
	}
	f := fastKeys{key: key}
	if keys.alg == AlgHS256 {
		secret := keys.secret
		f.macs = &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
	}
	return f
}

// hs256 is the base64url HMAC-SHA256 of signing (jwt/v4's HS256 Sign).
func (f fastKeys) hs256(signing string) string {
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(f.sum(signing, sum[:0]))
}

// sum appends the HMAC-SHA256 of signing to b.
func (f fastKeys) sum(signing string, b []byte) []byte {
	mac := f.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(signing))
	b = mac.Sum(b)
	f.macs.Put(mac)
	return b
}

// fastParse returns the claims of token if its header segment is the
// codec's own and its signature checks out; false sends the caller to the
// full parse.
func (j *JWT) fastParse(token string) (*Claims, bool) {
	if j.fast.key == nil {
		return nil, false
	}
	head, rest, ok := strings.Cut(token, ".")
	if !ok || head != j.header {
		return nil, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return nil, false
	}
	signing := token[:len(head)+1+len(payload)]
	if j.fast.macs != nil {
		// The length first: Decode writes past got for a longer sig.
		var got, want [sha256.Size]byte
		if len(sig) != base64.RawURLEncoding.EncodedLen(len(got)) {
			return nil, false
		}
		if n, err := base64.RawURLEncoding.Decode(got[:], []byte(sig)); err != nil || n != len(got) ||
			!hmac.Equal(got[:], j.fast.sum(signing, want[:0])) {
			return nil, false
		}
	} else if j.keys.method.Verify(signing, sig, j.fast.key) != nil {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	// goccy/go-json, not encoding/json: the payload decoded here is one this
	// codec signed (the signature is checked above), and it decodes it in
	// less than half the time (TestFastParseNeverAcceptsWhatJWTv4Refuses
	// compares its claims with jwt/v4's).
	c := new(Claims)
	if gojson.Unmarshal(raw, c) != nil {
		return nil, false
	}
	return c, true
}
