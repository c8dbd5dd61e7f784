package mfa_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

// TestEnrollment: pending until confirmed, for 10 minutes; a new
// enrollment replaces the pending one; TOTP on refuses another.
func TestEnrollment(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		e, err := f.store.Enroll(ctx, f.user)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(e.URI)
		q := u.Query()
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != e.Secret || q.Get("issuer") != "go-jwt-test" ||
			q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" || !strings.HasSuffix(u.Path, ":"+f.user) {
			t.Fatalf("uri %q", e.URI)
		}
		png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e.QRPNG, "data:image/png;base64,"))
		if err != nil || !strings.HasPrefix(e.QRPNG, "data:image/png;base64,") || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("qrPng is not a PNG data URL: %.60q", e.QRPNG)
		}
		if len(e.Secret) != 32 {
			t.Fatalf("secret %q: want 160 bits, 32 base32 characters", e.Secret)
		}
		if on, _ := f.store.Enabled(ctx, f.user); on {
			t.Fatal("TOTP on before confirmation")
		}
		if st, _ := f.store.Status(ctx, f.user); st.TOTP || st.RecoveryCodesLeft != 0 {
			t.Fatalf("pending status %+v", st)
		}
		_, err = f.store.Confirm(ctx, f.user, "000000")
		wantErr(t, err, errWrong)

		// A second enrollment replaces the first: its code no longer confirms.
		e2, err := f.store.Enroll(ctx, f.user)
		if err != nil || e2.Secret == e.Secret {
			t.Fatalf("re-enroll: %v (same secret: %v)", err, e2.Secret == e.Secret)
		}
		if c1, c2 := f.code(e.Secret, 0), f.code(e2.Secret, 0); c1 != c2 {
			_, err = f.store.Confirm(ctx, f.user, c1)
			wantErr(t, err, errWrong)
		}
		f.clock.Advance(mfa.PendingTTL)
		_, err = f.store.Confirm(ctx, f.user, f.code(e2.Secret, 0))
		wantErr(t, err, global.ErrNoEnrollment)

		e3, _ := f.store.Enroll(ctx, f.user)
		f.clock.Advance(mfa.PendingTTL - time.Second)
		codes, err := f.store.Confirm(ctx, f.user, f.code(e3.Secret, 0))
		if err != nil || len(codes) != 10 {
			t.Fatalf("confirm a second before the deadline: %v", err)
		}
		if st, _ := f.store.Status(ctx, f.user); !st.TOTP || st.RecoveryCodesLeft != 10 {
			t.Fatalf("status after confirm %+v", st)
		}
		_, err = f.store.Enroll(ctx, f.user)
		wantErr(t, err, global.ErrMFAActive)
		_, err = f.store.Confirm(ctx, f.user, f.code(e3.Secret, mfa.Period))
		wantErr(t, err, global.ErrMFAActive)
		if b.Mini != nil { // active: no TTL on the state
			b.Mini.FastForward(time.Hour)
			if on, _ := f.store.Enabled(ctx, f.user); !on {
				t.Fatal("TOTP state expired by TTL")
			}
		}
	})
}

// TestPendingEnrollmentExpiresInRedis: nothing stays behind of an
// enrollment never confirmed.
func TestPendingEnrollmentExpiresInRedis(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b)
	if _, err := f.store.Enroll(context.Background(), f.user); err != nil {
		t.Fatal(err)
	}
	b.Mini.FastForward(mfa.PendingTTL)
	if keys := b.Mini.Keys(); len(keys) != 0 {
		t.Fatalf("keys left: %q", keys)
	}
}

// TestDisable: needs TOTP on and a right code (TOTP or recovery); takes the
// recovery codes with it.
func TestDisable(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		secret, codes := f.enable()
		wantErr(t, f.store.Disable(ctx, f.user, "123456"), errWrong)
		if on, _ := f.store.Enabled(ctx, f.user); !on {
			t.Fatal("a wrong code turned TOTP off")
		}
		wantErr(t, f.store.Disable(ctx, f.user, f.code(secret, 0)), nil)
		st, err := f.store.Status(ctx, f.user)
		if err != nil || st.TOTP || st.RecoveryCodesLeft != 0 {
			t.Fatalf("status after disable %+v, %v", st, err)
		}
		wantErr(t, f.store.Disable(ctx, f.user, codes[0]), global.ErrMFAInactive)
		_, err = f.store.RegenerateRecoveryCodes(ctx, f.user, codes[0])
		wantErr(t, err, global.ErrMFAInactive)
		wantErr(t, f.login(codes[0]), errWrong)

		g := newFixture(t, b) // a recovery code turns it off too
		_, gc := g.enable()
		wantErr(t, g.store.Disable(ctx, g.user, gc[5]), nil)
		if b.Mini != nil {
			for _, k := range b.Mini.Keys() {
				if strings.Contains(k, "{"+g.user+"}") {
					t.Fatalf("key %q left after disable", k)
				}
			}
		}
	})
}

// TestWrongDataKeyFailsClosed: a store whose DATA_KEY is not the one a
// secret was sealed with answers ErrDataKey on every check of a TOTP code:
// no login, no disable, no new codes, and the mfaToken is not spent.
func TestWrongDataKeyFailsClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		secret, _ := f.enable()
		other := newStore(t, b, strings.Repeat("x", 40), f.clock)
		tok, err := other.NewChallenge(ctx, f.user, testAccount)
		if err != nil {
			t.Fatal(err)
		}
		code := f.code(secret, 0)
		_, err = other.Redeem(ctx, tok, code, false)
		wantErr(t, err, global.ErrDataKey)
		wantErr(t, other.Disable(ctx, f.user, code), global.ErrDataKey)
		_, err = other.RegenerateRecoveryCodes(ctx, f.user, code)
		wantErr(t, err, global.ErrDataKey)
		if on, _ := other.Enabled(ctx, f.user); !on {
			t.Fatal("TOTP reads as off under another DATA_KEY")
		}
		// The right key still works: nothing was spent or changed.
		if _, err := f.store.Redeem(ctx, tok, code, false); err != nil {
			t.Fatalf("the right key after the wrong one: %v", err)
		}
	})
}

// TestSecretsNotStoredInTheClear: no Redis value holds the TOTP secret or a
// recovery code.
func TestSecretsNotStoredInTheClear(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b)
	secret, codes := f.enable()
	f.challenge()
	dump := b.Mini.Dump()
	for _, s := range append([]string{secret, strings.ToLower(secret)}, codes...) {
		if strings.Contains(dump, s) || strings.Contains(dump, strings.ReplaceAll(s, "-", "")) {
			t.Fatalf("Redis holds %q in the clear:\n%s", s, dump)
		}
	}
	if !strings.Contains(dump, "m:{"+f.user+"}") {
		t.Fatalf("the dump does not show the store's keys: the check is not looking:\n%s", dump)
	}
}

// TestRedisDownIsUnavailable: every operation is ErrStoreUnavailable (a 503),
// never a pass or a wrong code.
func TestRedisDownIsUnavailable(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b)
	secret, codes := f.enable()
	tok := f.challenge()
	b.Mini.Close()
	ctx := context.Background()
	code := f.code(secret, 0)
	_, e1 := f.store.Enroll(ctx, f.user)
	_, e2 := f.store.Confirm(ctx, f.user, code)
	_, e3 := f.store.Enabled(ctx, f.user)
	_, e4 := f.store.Status(ctx, f.user)
	_, e5 := f.store.NewChallenge(ctx, f.user, testAccount)
	_, _, e6 := f.store.Challenge(ctx, tok)
	_, e7 := f.store.Redeem(ctx, tok, code, false)
	_, e8 := f.store.Redeem(ctx, tok, codes[0], true)
	e9 := f.store.Disable(ctx, f.user, code)
	_, e10 := f.store.RegenerateRecoveryCodes(ctx, f.user, code)
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7, e8, e9, e10} {
		if !errors.Is(err, global.ErrStoreUnavailable) {
			t.Errorf("operation %d with Redis down: %v, want ErrStoreUnavailable", i+1, err)
		}
	}
}
