package utils

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

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

// sum appends the HMAC-SHA256 of signing to b.
func (f fastKeys) sum(signing, b []byte) []byte {
	mac := f.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(signing)
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
			!hmac.Equal(got[:], j.fast.sum([]byte(signing), want[:0])) {
			return nil, false
		}
	} else if j.keys.method.Verify(signing, sig, j.fast.key) != nil {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	return decodeClaims(raw)
}

// wireClaims is Claims as decoded on the fast path: the dates as numbers,
// not through NumericDate's UnmarshalJSON (which runs encoding/json once per
// date: most of a decode).
type wireClaims struct {
	Username  string           `json:"username"`
	Type      string           `json:"type"`
	SessionID string           `json:"sid"`
	AuthTime  int64            `json:"auth_time"`
	Roles     []string         `json:"roles,omitempty"`
	AMR       []string         `json:"amr,omitempty"`
	Cnf       *Confirmation    `json:"cnf,omitempty"`
	UAHash    string           `json:"uah,omitempty"`
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  jwt.ClaimStrings `json:"aud,omitempty"`
	ExpiresAt gojson.Number    `json:"exp,omitempty"`
	NotBefore gojson.Number    `json:"nbf,omitempty"`
	IssuedAt  gojson.Number    `json:"iat,omitempty"`
	ID        string           `json:"jti,omitempty"`
}

// decodeClaims decodes a payload this codec signed (the signature is checked
// first): with goccy/go-json, not encoding/json, in a fraction of the time;
// a date that is not a whole number of seconds sends it to the full parse.
// TestFastParseNeverAcceptsWhatJWTv4Refuses compares its claims with jwt/v4's.
func decodeClaims(raw []byte) (*Claims, bool) {
	var w wireClaims
	if gojson.Unmarshal(raw, &w) != nil {
		return nil, false
	}
	c := &Claims{Username: w.Username, Type: w.Type, SessionID: w.SessionID, AuthTime: w.AuthTime, Roles: w.Roles, AMR: w.AMR, Cnf: w.Cnf, UAHash: w.UAHash,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: w.Issuer, Subject: w.Subject, Audience: w.Audience, ID: w.ID}}
	for _, d := range []struct {
		n  gojson.Number
		to **jwt.NumericDate
	}{{w.ExpiresAt, &c.ExpiresAt}, {w.NotBefore, &c.NotBefore}, {w.IssuedAt, &c.IssuedAt}} {
		if d.n == "" {
			continue
		}
		sec, err := strconv.ParseInt(string(d.n), 10, 64)
		if err != nil {
			return nil, false
		}
		*d.to = jwt.NewNumericDate(time.Unix(sec, 0))
	}
	return c, true
}
