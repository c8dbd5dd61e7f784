package passkey_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/passkey"
)

const origin = "https://app.example.com"

// fixture is a relying party for example.com on one backend.
type fixture struct {
	rp    *passkey.RP
	store *passkey.Store
	clock *testkit.Clock
	b     testkit.Backend
}

func newFixture(t *testing.T, b testkit.Backend) *fixture {
	t.Helper()
	f := &fixture{store: passkey.NewStore(b.Client), clock: testkit.NewClock(), b: b}
	var err error
	f.rp, err = passkey.New(passkey.Config{RPID: "example.com", RPName: "Example", Origins: []string{origin}}, f.store, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func eachBackend(t *testing.T, f func(t *testing.T, b testkit.Backend)) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

func asJSON(t *testing.T, c passkey.Ceremony) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register adds a passkey of a to user.
func (f *fixture) register(t *testing.T, a *testkit.Authenticator, user string) passkey.Passkey {
	t.Helper()
	ctx := context.Background()
	c, err := f.rp.BeginRegistration(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.rp.FinishRegistration(ctx, user, c.ID, "laptop", a.Create(t, asJSON(t, c), testkit.Tweak{}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// beginLogin begins a sign-in.
func (f *fixture) beginLogin(t *testing.T) passkey.Ceremony {
	t.Helper()
	c, err := f.rp.BeginLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login runs a sign-in with a, tweaked, and returns its outcome.
func (f *fixture) login(t *testing.T, a *testkit.Authenticator, tw testkit.Tweak) (string, error) {
	t.Helper()
	c := f.beginLogin(t)
	return f.rp.FinishLogin(context.Background(), c.ID, a.Get(t, asJSON(t, c), tw))
}

func TestRegisterAndSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
		p := f.register(t, a, user)
		if p.ID != base64.RawURLEncoding.EncodeToString(a.Creds[0].ID) || p.Name != "laptop" || p.LastUsedAt != nil {
			t.Fatalf("registered %+v", p)
		}
		f.clock.Advance(time.Minute)
		name, err := f.login(t, a, testkit.Tweak{})
		if err != nil || name != user {
			t.Fatalf("sign-in: %q, %v; want %q", name, err, user)
		}
		list, err := f.store.List(context.Background(), user)
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(f.clock.Now()) {
			t.Fatalf("list after sign-in: %+v, %v", list, err)
		}
		if n, err := f.store.Count(context.Background(), user); n != 1 || err != nil {
			t.Fatalf("count %d, %v", n, err)
		}
	})
}

func TestSignInRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
		f.register(t, a, user)
		if _, err := f.login(t, a, testkit.Tweak{}); err != nil { // the counter now stands at 1
			t.Fatal(err)
		}
		zero := uint32(0)
		tests := []struct {
			name string
			tw   testkit.Tweak
		}{
			{"phishing origin", testkit.Tweak{Origin: "https://example.com.evil.test"}},
			{"another RP ID", testkit.Tweak{RPID: "evil.test"}},
			{"user not verified", testkit.Tweak{NoUV: true}},
			{"bad signature", testkit.Tweak{BadSignature: true}},
			{"sign count gone back", testkit.Tweak{Count: &zero}},
			{"challenge of another ceremony", testkit.Tweak{Challenge: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.login(t, a, tt.tw); !errors.Is(err, global.ErrPasskeyRefused) {
					t.Fatalf("err = %v, want ErrPasskeyRefused", err)
				}
			})
		}
		if _, err := f.login(t, a, testkit.Tweak{}); err != nil {
			t.Fatalf("the genuine authenticator after the refusals: %v", err)
		}
	})
}

// TestSignCountRaceHasOneWinner: two assertions with the same counter value
// (a cloned authenticator used twice at once) cannot both pass: the counter
// check and update are one script.
func TestSignCountRaceHasOneWinner(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
		f.register(t, a, user)
		ctx := context.Background()
		const n = 8
		bodies, ids := make([][]byte, n), make([]string, n)
		count := uint32(7)
		for i := range n {
			c := f.beginLogin(t)
			ids[i], bodies[i] = c.ID, a.Get(t, asJSON(t, c), testkit.Tweak{Count: &count})
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = f.rp.FinishLogin(ctx, ids[i], bodies[i]) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, global.ErrPasskeyRefused):
				t.Fatalf("unexpected error %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d sign-ins with one counter value passed, want 1", won, n)
		}
	})
}

func TestAuthenticatorWithoutCounter(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0])
	user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
	f.register(t, a, user)
	zero := uint32(0) // many platform authenticators always send 0
	for range 2 {
		if _, err := f.login(t, a, testkit.Tweak{Count: &zero}); err != nil {
			t.Fatalf("counter 0 twice: %v", err)
		}
	}
}

func TestRegistrationRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		user, other := testkit.Name(t), testkit.Name(t)
		tests := []struct {
			name   string
			finish string // who finishes the ceremony user began
			tw     testkit.Tweak
			want   error
		}{
			{"phishing origin", user, testkit.Tweak{Origin: "https://evil.test"}, global.ErrPasskeyInvalid},
			{"another RP ID", user, testkit.Tweak{RPID: "evil.test"}, global.ErrPasskeyInvalid},
			{"user not verified", user, testkit.Tweak{NoUV: true}, global.ErrPasskeyInvalid},
			{"another user's ceremony", other, testkit.Tweak{}, global.ErrPasskeyInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := f.rp.BeginRegistration(ctx, user)
				if err != nil {
					t.Fatal(err)
				}
				body := testkit.NewAuthenticator(origin).Create(t, asJSON(t, c), tt.tw)
				if _, err := f.rp.FinishRegistration(ctx, tt.finish, c.ID, "", body); !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			})
		}
		for _, who := range []string{user, other} {
			if list, err := f.store.List(ctx, who); err != nil || len(list) != 0 {
				t.Fatalf("%s holds passkeys after refusals: %+v %v", who, list, err)
			}
		}
	})
}

func TestPasskeyNames(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0])
	ctx := context.Background()
	user := testkit.Name(t)
	for _, tt := range []struct{ in, want string }{{"  ", "Passkey"}, {" YubiKey 5 ", "YubiKey 5"}, {"Téléphone 📱", "Téléphone 📱"}} {
		c, err := f.rp.BeginRegistration(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.rp.FinishRegistration(ctx, user, c.ID, tt.in, testkit.NewAuthenticator(origin).Create(t, asJSON(t, c), testkit.Tweak{}))
		if err != nil || p.Name != tt.want {
			t.Fatalf("name %q → %q, %v; want %q", tt.in, p.Name, err, tt.want)
		}
	}
	for _, bad := range []string{"tab\there", string(make([]rune, 65))} {
		if _, err := f.rp.FinishRegistration(ctx, user, "x", bad, []byte("{}")); !errors.Is(err, global.ErrInvalidRequest) {
			t.Fatalf("name %q: %v, want ErrInvalidRequest", bad, err)
		}
	}
}

func TestTooManyPasskeys(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0])
	user := testkit.Name(t)
	for range passkey.MaxPerUser {
		f.register(t, testkit.NewAuthenticator(origin), user)
	}
	if _, err := f.rp.BeginRegistration(context.Background(), user); !errors.Is(err, global.ErrTooManyPasskeys) {
		t.Fatalf("begin past the cap: %v", err)
	}
}

func TestCeremonyExpires(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0]) // miniredis: time can be moved
	user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
	f.register(t, a, user)
	ctx := context.Background()
	c := f.beginLogin(t)
	f.b.Mini.FastForward(passkey.CeremonyTTL + time.Second)
	if _, err := f.rp.FinishLogin(ctx, c.ID, a.Get(t, asJSON(t, c), testkit.Tweak{})); !errors.Is(err, global.ErrPasskeyRefused) {
		t.Fatalf("expired sign-in: %v", err)
	}
	r, err := f.rp.BeginRegistration(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	f.b.Mini.FastForward(passkey.CeremonyTTL + time.Second)
	if _, err := f.rp.FinishRegistration(ctx, user, r.ID, "", a.Create(t, asJSON(t, r), testkit.Tweak{})); !errors.Is(err, global.ErrPasskeyInvalid) {
		t.Fatalf("expired registration: %v", err)
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b)
	user, a := testkit.Name(t), testkit.NewAuthenticator(origin)
	f.register(t, a, user)
	ctx := context.Background()
	c := f.beginLogin(t)
	body := a.Get(t, asJSON(t, c), testkit.Tweak{})
	b.Mini.Close()
	if _, err := f.rp.FinishLogin(ctx, c.ID, body); !errors.Is(err, global.ErrStoreUnavailable) || errors.Is(err, global.ErrPasskeyRefused) {
		t.Fatalf("finish with Redis down: %v, want ErrStoreUnavailable alone", err)
	}
	if _, err := f.rp.BeginLogin(ctx); !errors.Is(err, global.ErrStoreUnavailable) {
		t.Fatalf("begin with Redis down: %v", err)
	}
}
