package utils

import (
	"context"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// DPoP binding of sessions (SPEC §14). A session whose pair was issued with
// a DPoP proof records the key's thumbprint at the end of its value (see
// Sessions), and rotation keeps it there: a refresh must bring a proof by
// that key, and an unbound session never becomes bound.

// jktLen is the length of an RFC 7638 SHA-256 thumbprint in base64url.
const jktLen = 43

// jkt is the thumbprint a token is bound to, "" for none.
func jkt(c *Claims) string {
	if c.Cnf == nil {
		return ""
	}
	return c.Cnf.JKT
}

// binding is the suffix a session's value carries for the access claims c:
// "" when unbound, else a NUL and the thumbprint.
func binding(c *Claims) (string, error) {
	k := jkt(c)
	switch {
	case k == "":
		return "", nil
	case len(k) != jktLen:
		return "", global.ErrTokenClaims
	}
	return "\x00" + k, nil
}

// unbind splits a session's value into the value without the binding
// suffix and the thumbprint ("" when unbound).
func unbind(v string) (rest, jkt string) {
	if n := len(v); n >= headerLen+1+1+jktLen && v[n-jktLen-1] == 0 {
		return v[:n-jktLen-1], v[n-jktLen:]
	}
	return v, ""
}

// Also is a Redis command that rides with an access check (a DPoP proof's
// jti, dpop.Replays.Spend): it returns the command and what reads its answer
// once the command ran.
type Also func(ctx context.Context) (redis.Cmder, func() error)

// CheckAccessWith is CheckAccess sending also in the same pipeline, batched
// like every access check: one round trip for both. A revoked token is
// reported before also's answer.
func (s *Sessions) CheckAccessWith(ctx context.Context, c *Claims, also Also) error {
	live := c.live
	if live.key == "" {
		var err error
		if live, err = liveCheckOf(c); err != nil {
			return err
		}
	}
	extra, result := also(ctx)
	got, err := s.batch.do(ctx, live.key, jtiLen, extra)
	if err := stillLive(live.jti, got, err); err != nil {
		return err
	}
	return result()
}
