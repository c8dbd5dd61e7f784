package utils_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// Two RFC 7638 thumbprints, as a proof's key would give.
const (
	keyA = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	keyB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

// issue signs a pair of f's user bound to jkt ("" for none), for a new
// session or, with sid, an existing one.
func (f *fixture) issue(t *testing.T, sid, jkt string) utils.Pair {
	t.Helper()
	if sid == "" {
		sid = uuid.NewString()
	}
	p, err := f.codec.IssueBound(f.user, sid, f.clock.Now(), jkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBoundSessions: a session created with a bound pair records the key;
// its rotation needs a pair bound to that key; a rotation with another key,
// or none, changes nothing and revokes nothing (not even for a rotated-away
// refresh token); an unbound session stays unbound.
func TestBoundSessions(t *testing.T) {
	ctx := context.Background()
	cl := utils.Client{IP: "192.0.2.1", UserAgent: "test agent"}
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p := f.issue(t, "", keyA)
			if p.AccessClaims.Cnf == nil || p.RefreshClaims.Cnf == nil || p.AccessClaims.Cnf.JKT != keyA {
				t.Fatalf("IssueBound did not set cnf: %+v", p.AccessClaims.Cnf)
			}
			if err := f.sessions.Create(ctx, &p, cl, f.version(t)); err != nil {
				t.Fatal(err)
			}
			sid := p.AccessClaims.SessionID
			for _, other := range []string{keyB, ""} {
				next := f.issue(t, sid, other)
				if _, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, cl); !errors.Is(err, global.ErrDPoPKeyMismatch) {
					t.Fatalf("rotation bound to %q: %v, want key mismatch", other, err)
				}
			}
			if err := f.check(p); err != nil {
				t.Fatalf("a refused rotation changed the session: %v", err)
			}
			next := f.issue(t, sid, keyA)
			if _, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, cl); err != nil {
				t.Fatalf("rotation with the session's key: %v", err)
			}
			// The rotated-away token again, without the key: refused for the
			// key, not taken for reuse: the session lives.
			thief := f.issue(t, sid, "")
			if _, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &thief, cl); !errors.Is(err, global.ErrDPoPKeyMismatch) {
				t.Fatalf("old refresh token without the key: %v", err)
			}
			if err := f.check(next); err != nil {
				t.Fatalf("the session was revoked by a keyless replay: %v", err)
			}
			sess, err := f.sessions.Get(ctx, f.user, sid)
			if err != nil || sess.UserAgent != "test agent" || sess.IP != "192.0.2.1" {
				t.Fatalf("bound session reads back %+v, %v", sess, err)
			}

			u := f.issue(t, "", "")
			if err := f.sessions.Create(ctx, &u, cl, f.version(t)); err != nil {
				t.Fatal(err)
			}
			bind := f.issue(t, u.AccessClaims.SessionID, keyA)
			if _, err := f.sessions.Rotate(ctx, &u.RefreshClaims, &bind, cl); !errors.Is(err, global.ErrDPoPKeyMismatch) {
				t.Fatalf("binding an unbound session on refresh: %v", err)
			}
			plain := f.issue(t, u.AccessClaims.SessionID, "")
			if _, err := f.sessions.Rotate(ctx, &u.RefreshClaims, &plain, cl); err != nil {
				t.Fatalf("unbound rotation of an unbound session: %v", err)
			}
		})
	}
}

// TestBindingSuffixIsUnambiguous: a User-Agent that tries to look like a
// binding (a NUL and 43 characters at its end) neither binds its session
// nor shows a NUL.
func TestBindingSuffixIsUnambiguous(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testkit.Backends(t)[0], 0)
	p := f.issue(t, "", "")
	ua := strings.Repeat("x", 60) + "\x00" + keyA
	if err := f.sessions.Create(ctx, &p, utils.Client{IP: "192.0.2.1", UserAgent: ua}, f.version(t)); err != nil {
		t.Fatal(err)
	}
	next := f.issue(t, p.AccessClaims.SessionID, "")
	if _, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, utils.Client{IP: "192.0.2.1", UserAgent: ua}); err != nil {
		t.Fatalf("the session was taken for bound: %v", err)
	}
	sess, err := f.sessions.Get(ctx, f.user, p.AccessClaims.SessionID)
	if err != nil || strings.Contains(sess.UserAgent, "\x00") || !strings.HasSuffix(sess.UserAgent, keyA) {
		t.Fatalf("user agent %q, %v", sess.UserAgent, err)
	}
}

// TestCheckAccessWith: the access check and the extra command share one
// pipeline; a revoked token is revoked whatever the extra command says,
// and the extra command's own refusal comes through.
func TestCheckAccessWith(t *testing.T) {
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p := f.login(t)
			refused := errors.New("refused by the extra command")
			key := testkit.Name(t)
			also := func(ctx context.Context) (redis.Cmder, func() error) {
				cmd := redis.NewBoolCmd(ctx, "set", key, "", "px", time.Minute.Milliseconds(), "nx")
				return cmd, func() error {
					if !cmd.Val() {
						return refused
					}
					return nil
				}
			}
			if err := f.sessions.CheckAccessWith(ctx, &p.AccessClaims, also); err != nil {
				t.Fatalf("live token: %v", err)
			}
			if err := f.sessions.CheckAccessWith(ctx, &p.AccessClaims, also); !errors.Is(err, refused) {
				t.Fatalf("second SET NX: %v", err)
			}
			if _, err := f.sessions.Revoke(ctx, f.user, p.AccessClaims.SessionID); err != nil {
				t.Fatal(err)
			}
			if err := f.sessions.CheckAccessWith(ctx, &p.AccessClaims, also); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("revoked token: %v", err)
			}
			if b.Mini != nil {
				b.Mini.Close()
				if err := f.sessions.CheckAccessWith(ctx, &p.AccessClaims, also); !errors.Is(err, global.ErrStoreUnavailable) {
					t.Fatalf("Redis down: %v", err)
				}
			}
		})
	}
}
