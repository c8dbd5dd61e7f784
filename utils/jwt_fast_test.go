package utils

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/uuid"
)

// The fast path may only ever answer what jwt/v4's full parse answers: for
// every token it accepts, the full parse accepts it too, with the same
// claims. (It may decline any token; the full parse then decides.)
func TestFastParseNeverAcceptsWhatJWTv4Refuses(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	_, edKey, _ := ed25519.GenerateKey(nil)
	_, otherEd, _ := ed25519.GenerateKey(nil)
	edKeys, err := NewKeys(AlgEdDSA, edKey, otherEd.Public())
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := NewKeys(AlgEdDSA, otherEd)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	for _, tc := range []struct {
		name  string
		codec *JWT
		other *JWT // signs tokens the codec accepts through jwt/v4 only (another kid)
	}{
		{"HS256", NewJWT(secret, "jwt-demo", time.Minute, time.Hour, 2*time.Hour, now), nil},
		{"EdDSA", NewJWTWithKeys(edKeys, "jwt-demo", time.Minute, time.Hour, 2*time.Hour, now),
			NewJWTWithKeys(otherKeys, "jwt-demo", time.Minute, time.Hour, 2*time.Hour, now)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.codec.Issue("kesa", uuid.NewString(), now(), []string{"user"}, "pwd")
			if err != nil {
				t.Fatal(err)
			}
			tokens := []string{p.Access, p.Refresh, "", "a.b.c", "a.b", p.Access + ".x", p.Access[:len(p.Access)-1],
				p.Access + "x", p.Access + "xxxx", p.Access + strings.Repeat("A", 100)}
			if tc.other != nil {
				q, err := tc.other.Issue("kesa", uuid.NewString(), now(), []string{"user"}, "pwd")
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := tc.codec.fastParse(q.Access); ok {
					t.Fatal("another kid's token took the fast path")
				}
				tokens = append(tokens, q.Access)
			}
			// A validly signed payload with trailing data: jwt/v4's decoder
			// reads past it, Unmarshal refuses it; only the full parse decides.
			if tc.name == "HS256" {
				signing := tc.codec.header + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"username":"kesa"} trailing`))
				mac := hmac.New(sha256.New, secret)
				mac.Write([]byte(signing))
				odd := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
				if _, ok := tc.codec.fastParse(odd); ok {
					t.Fatal("a payload with trailing data took the fast path")
				}
				tokens = append(tokens, odd)
			}
			// Every single-byte change of a valid token.
			rng := rand.New(rand.NewPCG(1, 2))
			alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=\n"
			for range 3000 {
				b := []byte(p.Access)
				b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
				tokens = append(tokens, string(b))
			}
			accepted := 0
			for _, tok := range tokens {
				fast, ok := tc.codec.fastParse(tok)
				if !ok {
					continue
				}
				accepted++
				full := new(Claims)
				if _, err := tc.codec.parser.ParseWithClaims(tok, full, tc.codec.keyfunc); err != nil {
					t.Fatalf("fast path accepted %q, jwt/v4 refuses it: %v", tok, err)
				}
				if !reflect.DeepEqual(fast, full) {
					t.Fatalf("claims differ for %q:\nfast %+v\nfull %+v", tok, fast, full)
				}
			}
			if accepted < 2 {
				t.Fatalf("the fast path accepted %d tokens: not even the valid ones", accepted)
			}
			if _, ok := tc.codec.fastParse(p.Refresh); !ok {
				t.Fatal("a token of this codec missed the fast path")
			}
		})
	}
}

// Sanity: jwt/v4's own HS256 signature is what the pooled HMAC makes.
func TestPooledHS256IsJWTv4s(t *testing.T) {
	keys := NewHMACKeys([]byte("0123456789abcdef0123456789abcdef"))
	f := newFastKeys(keys)
	for _, s := range []string{"", "a.b", "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ"} {
		want, err := jwt.SigningMethodHS256.Sign(s, keys.secret)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(f.sum([]byte(s), nil)); got != want {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	}
}
