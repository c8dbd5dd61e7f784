package utils_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// uaKey is where the text of ua is kept (utils/useragent.go).
func uaKey(ua string) string {
	sum := sha256.Sum256([]byte(ua))
	return global.KeyUserAgent + hex.EncodeToString(sum[:8])
}

// versionOf is the account version of user, created first if need be
// (sessions are opened only for an account that exists).
func (f *fixture) versionOf(t *testing.T, user string) string {
	t.Helper()
	err := f.users.Create(context.Background(), user, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", []string{"user"}, f.clock.Now())
	if err != nil && !errors.Is(err, global.ErrConflict) {
		t.Fatal(err)
	}
	a, err := f.users.Account(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return a.Version
}

// open creates a session of user with ua, like login.
func (f *fixture) open(t *testing.T, user, ua string) utils.Pair {
	t.Helper()
	p, err := f.codec.Issue(user, uuid.NewString(), f.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sessions.Create(context.Background(), &p, utils.Client{IP: "198.51.100.4", UserAgent: ua}, f.versionOf(t, user)); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) listed(t *testing.T, user string) []utils.Session {
	t.Helper()
	list, err := f.sessions.List(context.Background(), user, "")
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestUserAgentIsStoredOnceAndListedForEverySession(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			ctx := context.Background()
			ua := "Mozilla/5.0 (X11; Linux x86_64) " + f.user + " Firefox/140.0"
			other := f.user + "-2"
			f.open(t, f.user, ua)
			f.open(t, other, ua)
			f.open(t, f.user, "")
			if n := b.Client.Exists(ctx, uaKey(ua)).Val(); n != 1 {
				t.Fatalf("the User-Agent's key: %d, want one key for both sessions", n)
			}
			for _, user := range []string{f.user, other} {
				for _, s := range f.listed(t, user) {
					if s.UserAgent != ua && s.UserAgent != "" || s.IP != "198.51.100.4" {
						t.Fatalf("%s: listed %+v", user, s)
					}
				}
			}
			got, err := f.sessions.Get(ctx, other, f.listed(t, other)[0].ID)
			if err != nil || got.UserAgent != ua {
				t.Fatalf("Get: %+v %v", got, err)
			}
			// Newlines become spaces and a long one is cut, as before.
			long := f.user + "\n" + strings.Repeat("x", 400)
			f.open(t, other, long)
			found := false
			for _, s := range f.listed(t, other) {
				if strings.HasPrefix(s.UserAgent, f.user+" x") {
					found = len(s.UserAgent) == 256
				}
			}
			if !found {
				t.Fatalf("long User-Agent not stored cut to 256 bytes with its newline made a space: %+v", f.listed(t, other))
			}
		})
	}
}

// The text outlives every session that names it: a session's rotation
// lengthens it, and a session that lives shorter never shortens it.
func TestUserAgentOutlivesItsSessions(t *testing.T) {
	b := testkit.Backends(t)[0] // miniredis: time can be moved
	f := newFixture(t, b, 0)
	ctx := context.Background()
	ua := "agent of " + f.user
	p := f.open(t, f.user, ua)
	sid := uuid.MustParse(p.AccessClaims.SessionID)
	sessionTTL := func() time.Duration {
		return b.Client.PTTL(ctx, global.KeySession+"{"+f.user+"}:"+string(sid[:])).Val()
	}
	uaTTL := func() time.Duration { return b.Client.PTTL(ctx, uaKey(ua)).Val() }
	if uaTTL() < sessionTTL() {
		t.Fatalf("after login: User-Agent TTL %v < session TTL %v", uaTTL(), sessionTTL())
	}
	b.Mini.FastForward(100 * time.Hour)
	f.clock.Advance(100 * time.Hour)
	next, err := f.codec.Issue(f.user, p.RefreshClaims.SessionID, time.Unix(p.RefreshClaims.AuthTime, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, utils.Client{IP: "198.51.100.5", UserAgent: ua}); err != nil {
		t.Fatal(err)
	}
	if s, u := sessionTTL(), uaTTL(); s < 167*time.Hour || u < s {
		t.Fatalf("after a rotation: session TTL %v, User-Agent TTL %v: want it lengthened to at least the session's", s, u)
	}
	before := uaTTL()
	// A session expiring sooner (a shorter-lived pair) leaves it as it is.
	f2 := newFixture(t, b, 0)
	f2.codec = utils.NewJWT([]byte("0123456789abcdef0123456789abcdef"), "jwt-demo", time.Minute, time.Hour, 2*time.Hour, f2.clock.Now)
	f2.open(t, f2.user, ua)
	if after := uaTTL(); after < before-time.Second {
		t.Fatalf("a shorter session shortened the User-Agent's TTL: %v → %v", before, after)
	}
	// A rotation stored it for SESSION_MAX_AGE, which no session outlives;
	// after that, the text is gone.
	b.Mini.FastForward(maxAge + time.Hour)
	if n := b.Client.Exists(ctx, uaKey(ua)).Val(); n != 0 {
		t.Fatalf("User-Agent kept after every session expired")
	}
}

// A rotation stores the User-Agent's text for the rest of the session's
// life and says so in the new refresh token (uah): the next rotation from
// the same User-Agent writes nothing (a refresh runs one script, not two),
// one from another User-Agent stores that one.
func TestRotationStoresTheUserAgentOnlyWhenItChanges(t *testing.T) {
	b := testkit.Backends(t)[0] // miniredis: TTLs and time can be read and moved
	f := newFixture(t, b, 0)
	ctx := context.Background()
	ua, other := "browser of "+f.user, "updated browser of "+f.user
	uaTTL := func(ua string) time.Duration { return b.Client.PTTL(ctx, uaKey(ua)).Val() }
	rotate := func(old *utils.Claims, ua string) utils.Pair {
		t.Helper()
		next, err := f.codec.Issue(f.user, old.SessionID, time.Unix(old.AuthTime, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.sessions.Rotate(ctx, old, &next, utils.Client{IP: "198.51.100.5", UserAgent: ua}); err != nil {
			t.Fatal(err)
		}
		return next
	}
	hashOf := func(ua string) string { return strings.TrimPrefix(uaKey(ua), global.KeyUserAgent) }

	p := f.open(t, f.user, ua) // a login's pair carries no uah: it was signed first
	if p.RefreshClaims.UAHash != "" || uaTTL(ua) > 169*time.Hour {
		t.Fatalf("after login: uah %q, TTL %v", p.RefreshClaims.UAHash, uaTTL(ua))
	}
	first := rotate(&p.RefreshClaims, ua)
	if first.RefreshClaims.UAHash != hashOf(ua) || uaTTL(ua) < maxAge-time.Minute {
		t.Fatalf("first rotation: uah %q (want %q), TTL %v (want SESSION_MAX_AGE %v)", first.RefreshClaims.UAHash, hashOf(ua), uaTTL(ua), maxAge)
	}
	if first.AccessClaims.UAHash != "" {
		t.Fatal("the access token carries uah: only the refresh token needs it")
	}

	// Gone from Redis behind the store's back: the same User-Agent's next
	// rotation does not write it (that is the point), another's does.
	b.Mini.Del(uaKey(ua))
	second := rotate(&first.RefreshClaims, ua)
	if b.Mini.Exists(uaKey(ua)) {
		t.Fatal("a rotation from the same User-Agent stored its text again")
	}
	if second.RefreshClaims.UAHash != hashOf(ua) {
		t.Fatalf("uah %q not carried on", second.RefreshClaims.UAHash)
	}
	third := rotate(&second.RefreshClaims, other)
	if third.RefreshClaims.UAHash != hashOf(other) || uaTTL(other) < maxAge-time.Minute {
		t.Fatalf("another User-Agent: uah %q, TTL %v", third.RefreshClaims.UAHash, uaTTL(other))
	}
	if got := f.listed(t, f.user); len(got) != 1 || got[0].UserAgent != other {
		t.Fatalf("listed %+v, want the session with %q", got, other)
	}
	// A session without a User-Agent carries none.
	if none := rotate(&third.RefreshClaims, ""); none.RefreshClaims.UAHash != "" {
		t.Fatalf("no User-Agent: uah %q", none.RefreshClaims.UAHash)
	}
}

// Redis forgetting its scripts (a restart, SCRIPT FLUSH, a failover) costs a
// reload, not a failure: login and refresh pipeline EVALSHA.
func TestSessionScriptsSurviveScriptFlush(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			if err := b.Client.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH: %v", err)
			}
			p := f.open(t, f.user, "flushed "+f.user)
			if err := b.Client.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.rotate(t, p); err != nil {
				t.Fatalf("rotation after SCRIPT FLUSH: %v", err)
			}
			if list := f.listed(t, f.user); len(list) != 1 || list[0].UserAgent != "test" {
				t.Fatalf("after rotation: %+v", list)
			}
		})
	}
}
