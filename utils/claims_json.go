package utils

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// appendClaimsJSON appends json.Marshal(c) to b, byte for byte (TestClaimsJSONIsEncodingJSONs),
// without reflection for the claims this service signs: every refresh signs
// two tokens, and encoding/json's reflection, the NumericDate marshalers
// and the check of their output were most of the signing. Claims it would
// have to escape (a byte outside plain ASCII, a quote, a backslash, < > &),
// an audience, or a TimePrecision under a second go to json.Marshal.
func appendClaimsJSON(b []byte, c *Claims) ([]byte, error) {
	if out, ok := appendClaims(b, c); ok {
		return out, nil
	}
	j, err := json.Marshal(c)
	return append(b, j...), err
}

func appendClaims(b []byte, c *Claims) ([]byte, bool) {
	if jwt.TimePrecision != time.Second || len(c.Audience) > 0 {
		return nil, false
	}
	ok := true
	str := func(key, v string) {
		b = append(b, key...)
		if !plain(v) {
			ok = false
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	list := func(key string, v []string) {
		b = append(b, key...)
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if !plain(s) {
				ok = false
			}
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	date := func(key string, d *jwt.NumericDate) {
		if d != nil {
			b = append(b, key...)
			b = strconv.AppendInt(b, d.Truncate(time.Second).Unix(), 10)
		}
	}
	str(`{"username":`, c.Username)
	str(`,"type":`, c.Type)
	str(`,"sid":`, c.SessionID)
	b = append(b, `,"auth_time":`...)
	b = strconv.AppendInt(b, c.AuthTime, 10)
	if len(c.Roles) > 0 {
		list(`,"roles":`, c.Roles)
	}
	if len(c.AMR) > 0 {
		list(`,"amr":`, c.AMR)
	}
	if c.Cnf != nil {
		str(`,"cnf":{"jkt":`, c.Cnf.JKT)
		b = append(b, '}')
	}
	if c.UAHash != "" {
		str(`,"uah":`, c.UAHash)
	}
	if c.Issuer != "" {
		str(`,"iss":`, c.Issuer)
	}
	if c.Subject != "" {
		str(`,"sub":`, c.Subject)
	}
	date(`,"exp":`, c.ExpiresAt)
	date(`,"nbf":`, c.NotBefore)
	date(`,"iat":`, c.IssuedAt)
	if c.ID != "" {
		str(`,"jti":`, c.ID)
	}
	return append(b, '}'), ok
}

// plain reports whether encoding/json writes s as it is between quotes:
// printable ASCII without '"', '\\' and the HTML characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
