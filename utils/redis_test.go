package utils_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// fixture is a codec, user and session store on one backend with one
// clock, and one user.
type fixture struct {
	clock    *testkit.Clock
	codec    *utils.JWT
	sessions *utils.Sessions
	users    *utils.Users
	user     string
}

func newFixture(t *testing.T, b testkit.Backend, grace time.Duration) *fixture {
	clock := testkit.NewClock()
	f := &fixture{
		clock:    clock,
		codec:    newCodec(clock),
		sessions: utils.NewSessions(t.Context(), b.Client, 3, grace, maxAge, clock.Now),
		users:    utils.NewUsers(b.Client, []string{"user"}),
		user:     testkit.Name(t),
	}
	if err := f.users.Create(context.Background(), f.user, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", []string{"user"}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	return f
}

// version is the user's account version, which a session is opened and
// rotated for.
func (f *fixture) version(t *testing.T) string {
	t.Helper()
	a, err := f.users.Account(context.Background(), f.user)
	if err != nil {
		t.Fatal(err)
	}
	return a.Version
}

// login opens a session like the login handler does.
func (f *fixture) login(t *testing.T) utils.Pair {
	t.Helper()
	p, err := f.codec.Issue(f.user, uuid.NewString(), f.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.Create(context.Background(), &p, utils.Client{IP: "192.0.2.1", UserAgent: "test"}, f.version(t)); err != nil {
		t.Fatal(err)
	}
	return p
}

// rotate refreshes like the refresh handler does.
func (f *fixture) rotate(t *testing.T, old utils.Pair) (utils.Pair, error) {
	t.Helper()
	next, err := f.codec.Issue(f.user, old.RefreshClaims.SessionID, time.Unix(old.RefreshClaims.AuthTime, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Rotate(context.Background(), &old.RefreshClaims, &next, utils.Client{IP: "192.0.2.2", UserAgent: "test"})
	return next, err
}

func (f *fixture) check(p utils.Pair) error {
	return f.sessions.CheckAccess(context.Background(), &p.AccessClaims)
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		grace time.Duration
		run   func(t *testing.T, f *fixture)
	}{
		{name: "issued access token is live", run: func(t *testing.T, f *fixture) {
			if err := f.check(f.login(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "unknown session is revoked", run: func(t *testing.T, f *fixture) {
			p := f.login(t)
			p.AccessClaims.SessionID = uuid.NewString()
			if err := f.check(p); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("err = %v", err)
			}
		}},
		{name: "rotation replaces both tokens", run: func(t *testing.T, f *fixture) {
			old := f.login(t)
			next, err := f.rotate(t, old)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.check(old); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("old access after rotation: %v", err)
			}
			if err := f.check(next); err != nil {
				t.Fatalf("new access: %v", err)
			}
			if _, err := f.rotate(t, next); err != nil {
				t.Fatalf("second rotation with the new refresh token: %v", err)
			}
		}},
		{name: "reused refresh token revokes the session", run: func(t *testing.T, f *fixture) {
			old := f.login(t)
			next, err := f.rotate(t, old)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.rotate(t, old); !errors.Is(err, global.ErrTokenReused) {
				t.Fatalf("reuse: %v, want ErrTokenReused", err)
			}
			if err := f.check(next); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("thief's or victim's new access token still live: %v", err)
			}
			if _, err := f.rotate(t, next); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("new refresh token after reuse: %v", err)
			}
		}},
		{name: "older generation refresh token also counts as reuse", run: func(t *testing.T, f *fixture) {
			g0 := f.login(t)
			g1, _ := f.rotate(t, g0)
			if _, err := f.rotate(t, g1); err != nil {
				t.Fatal(err)
			}
			if _, err := f.rotate(t, g0); !errors.Is(err, global.ErrTokenReused) {
				t.Fatalf("err = %v", err)
			}
		}},
		{name: "within the reuse grace the previous token is refused without revoking", grace: 10 * time.Second, run: func(t *testing.T, f *fixture) {
			old := f.login(t)
			next, err := f.rotate(t, old)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(9 * time.Second)
			if _, err := f.rotate(t, old); !errors.Is(err, global.ErrTokenRaced) {
				t.Fatalf("within grace: %v, want ErrTokenRaced", err)
			}
			if err := f.check(next); err != nil {
				t.Fatalf("session must survive a race: %v", err)
			}
			f.clock.Advance(2 * time.Second)
			if _, err := f.rotate(t, old); !errors.Is(err, global.ErrTokenReused) {
				t.Fatalf("after grace: %v, want ErrTokenReused", err)
			}
		}},
		{name: "revoke ends access and refresh together", run: func(t *testing.T, f *fixture) {
			p := f.login(t)
			live, err := f.sessions.Revoke(ctx, f.user, p.AccessClaims.SessionID)
			if err != nil || !live {
				t.Fatalf("revoke: %v %v", live, err)
			}
			if err := f.check(p); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("access after revoke: %v", err)
			}
			if _, err := f.rotate(t, p); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("refresh after revoke: %v", err)
			}
			if live, _ := f.sessions.Revoke(ctx, f.user, p.AccessClaims.SessionID); live {
				t.Fatal("second revoke reports a live session")
			}
		}},
		{name: "list is newest first and marks the current session", run: func(t *testing.T, f *fixture) {
			a := f.login(t)
			f.clock.Advance(time.Second)
			b := f.login(t)
			list, err := f.sessions.List(ctx, f.user, a.AccessClaims.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].ID != b.AccessClaims.SessionID || list[1].ID != a.AccessClaims.SessionID {
				t.Fatalf("list = %+v", list)
			}
			if list[0].Current || !list[1].Current || list[1].IP != "192.0.2.1" || list[1].UserAgent != "test" {
				t.Fatalf("list = %+v", list)
			}
		}},
		{name: "cap drops the oldest session", run: func(t *testing.T, f *fixture) {
			first := f.login(t)
			for range 3 { // cap is 3
				f.clock.Advance(time.Second)
				f.login(t)
			}
			if err := f.check(first); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("oldest session past the cap: %v", err)
			}
			if list, _ := f.sessions.List(ctx, f.user, ""); len(list) != 3 {
				t.Fatalf("%d sessions, want 3", len(list))
			}
		}},
		{name: "revoke all except the current one", run: func(t *testing.T, f *fixture) {
			a, b, c := f.login(t), f.login(t), f.login(t)
			n, err := f.sessions.RevokeAll(ctx, f.user, b.AccessClaims.SessionID)
			if err != nil || n != 2 {
				t.Fatalf("revoked %d, %v; want 2", n, err)
			}
			if f.check(a) == nil || f.check(c) == nil || f.check(b) != nil {
				t.Fatal("wrong sessions survived")
			}
			if n, _ := f.sessions.RevokeAll(ctx, f.user, ""); n != 1 {
				t.Fatalf("revoke all: %d, want 1", n)
			}
		}},
		{name: "get returns one live session", run: func(t *testing.T, f *fixture) {
			p := f.login(t)
			s, err := f.sessions.Get(ctx, f.user, p.AccessClaims.SessionID)
			if err != nil || s.ID != p.AccessClaims.SessionID {
				t.Fatalf("get: %+v %v", s, err)
			}
		}},
	}
	for _, b := range testkit.Backends(t) {
		for _, tt := range tests {
			t.Run(b.Name+"/"+tt.name, func(t *testing.T) {
				tt.run(t, newFixture(t, b, tt.grace))
			})
		}
	}
}

func TestConcurrentRotationHasOneWinner(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			old := f.login(t)
			const n = 50
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { _, errs[i] = f.rotate(t, old) })
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, global.ErrTokenReused), errors.Is(err, global.ErrTokenRevoked):
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d rotations succeeded, want exactly 1", wins)
			}
		})
	}
}

func TestSessionTTL(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p := f.login(t)
			sid := uuid.MustParse(p.AccessClaims.SessionID)
			key := global.KeySession + "{" + f.user + "}:" + string(sid[:])
			ttl := b.Client.PTTL(context.Background(), key).Val()
			if ttl <= 167*time.Hour || ttl > 168*time.Hour {
				t.Fatalf("session TTL %v, want the refresh lifetime (168h)", ttl)
			}
			exp := b.Client.HGet(context.Background(), global.KeyUser+"{"+f.user+"}", "s:"+string(sid[:])).Val()
			if exp != strconv.FormatInt(p.RefreshClaims.ExpiresAt.Unix(), 10) {
				t.Fatalf("index entry %q, want the session's expiry", exp)
			}
		})
	}
}

func TestExpiredSessionDisappears(t *testing.T) {
	b := testkit.Backends(t)[0] // miniredis: time can be moved
	f := newFixture(t, b, 0)
	p := f.login(t)
	b.Mini.FastForward(168*time.Hour + time.Second)
	f.clock.Advance(168*time.Hour + time.Second)
	if err := f.check(p); !errors.Is(err, global.ErrTokenRevoked) {
		t.Fatalf("expired session: %v", err)
	}
	if list, err := f.sessions.List(context.Background(), f.user, ""); err != nil || len(list) != 0 {
		t.Fatalf("list after expiry: %v %v", list, err)
	}
	if keys := b.Mini.Keys(); len(keys) != 1 || keys[0] != global.KeyUser+"{"+f.user+"}" {
		t.Fatalf("keys left after expiry: %v, want only the user's hash", keys)
	}
	if fields, _ := b.Mini.HKeys(global.KeyUser + "{" + f.user + "}"); slices.ContainsFunc(fields, func(k string) bool { return strings.HasPrefix(k, "s:") }) {
		t.Fatalf("session index entries left after expiry: %v", fields)
	}
}

func rotateErr(_ utils.StoredRoles, err error) error { return err }

func TestStoreErrorsAreUnavailable(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b, 0)
	p := f.login(t)
	version := f.version(t)
	b.Mini.Close()
	for name, err := range map[string]error{
		"check":  f.check(p),
		"create": f.sessions.Create(context.Background(), &p, utils.Client{}, version),
		"rotate": rotateErr(f.sessions.Rotate(context.Background(), &p.RefreshClaims, &p, utils.Client{})),
	} {
		if !errors.Is(err, global.ErrStoreUnavailable) || errors.Is(err, global.ErrInvalidToken) {
			t.Errorf("%s with Redis down: %v, want ErrStoreUnavailable", name, err)
		}
	}
}
