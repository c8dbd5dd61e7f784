package utils

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// The hand-written claims encoder writes what encoding/json writes, for
// the claims this service signs and for every kind it hands to
// encoding/json instead (escapes, an audience, a missing date).
func TestClaimsJSONIsEncodingJSONs(t *testing.T) {
	at := func(sec int64, ns int64) *jwt.NumericDate { return jwt.NewNumericDate(time.Unix(sec, ns)) }
	base := func() Claims {
		return Claims{Username: "kesa", Type: "access", SessionID: "6f1c1e1a-0b7e-4c55-9f0e-0a3b1c2d3e4f", AuthTime: 1_800_000_000,
			Roles: []string{"admin", "user"}, AMR: []string{"pwd", "otp"},
			RegisteredClaims: jwt.RegisteredClaims{Issuer: "jwt-demo", ID: "0b5c9a8e-1d2f-4a3b-8c7d-6e5f4a3b2c1d",
				ExpiresAt: at(1_800_000_900, 0), NotBefore: at(1_800_000_000, 0), IssuedAt: at(1_800_000_000, 0)}}
	}
	cases := map[string]func(*Claims){
		"access pair claims": func(*Claims) {},
		"refresh, no roles":  func(c *Claims) { c.Type, c.Roles = "refresh", nil },
		"empty lists":        func(c *Claims) { c.Roles, c.AMR = []string{}, []string{} },
		"bound":              func(c *Claims) { c.Cnf = &Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"} },
		"empty jkt":          func(c *Claims) { c.Cnf = &Confirmation{} },
		"subject":            func(c *Claims) { c.Subject = "kesa" },
		"refresh with uah":   func(c *Claims) { c.Type, c.Roles, c.UAHash = "refresh", nil, "0123456789abcdef" },
		"bound refresh with uah": func(c *Claims) {
			c.Type, c.UAHash, c.Cnf = "refresh", "fedcba9876543210", &Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
		},
		"no issuer, no jti":        func(c *Claims) { c.Issuer, c.ID = "", "" },
		"no dates":                 func(c *Claims) { c.ExpiresAt, c.NotBefore, c.IssuedAt = nil, nil, nil },
		"a date with nanoseconds":  func(c *Claims) { c.IssuedAt = at(1_800_000_000, 999_999_999) },
		"a date before 1970":       func(c *Claims) { c.NotBefore = at(-5, 0) },
		"zero auth time":           func(c *Claims) { c.AuthTime = 0 },
		"negative auth time":       func(c *Claims) { c.AuthTime = -1 },
		"unicode username":         func(c *Claims) { c.Username = "zoë" },
		"html in the issuer":       func(c *Claims) { c.Issuer = "<a&b>" },
		"quote and backslash":      func(c *Claims) { c.Username = `a"b\c` },
		"control character":        func(c *Claims) { c.Username = "a\tb" },
		"invalid UTF-8":            func(c *Claims) { c.Username = "a\xffb" },
		"line separator":           func(c *Claims) { c.Username = "a\u2028b" },
		"DEL":                      func(c *Claims) { c.Username = "a\x7fb" },
		"escaped role":             func(c *Claims) { c.Roles = []string{"a<b"} },
		"audience":                 func(c *Claims) { c.Audience = jwt.ClaimStrings{"api"} },
		"empty strings everywhere": func(c *Claims) { *c = Claims{} },
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 { // random printable ASCII names: the plain test's edges
		cases["random name "+string(rune('a'+i%26))+string(rune('a'+i/26))] = func(c *Claims) {
			n := make([]byte, 1+rng.IntN(12))
			for j := range n {
				n[j] = byte(0x1f + rng.IntN(0x62))
			}
			c.Username = string(n)
		}
	}
	for name, change := range cases {
		c := base()
		change(&c)
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendClaimsJSON([]byte("prefix"), &c) // appended, on both paths
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%s:\ngot  %s (%v)\nwant %s", name, got, err, want)
		}
	}
	c := base()
	if _, ok := appendClaims(nil, &c); !ok {
		t.Fatal("the claims of a pair went to encoding/json: the fast encoder is never used")
	}
}
