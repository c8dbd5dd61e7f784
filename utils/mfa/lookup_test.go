package mfa_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

// TestLookupTOTPOn: on only once confirmed (pending is off), off again
// after disable and after a purge, in the order asked, on every backend.
func TestLookupTOTPOn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		ctx := context.Background()
		on, pending, off, purged := newFixture(t, b), newFixture(t, b), newFixture(t, b), newFixture(t, b)
		on.user, pending.user, off.user, purged.user = on.user+"-on", on.user+"-pending", on.user+"-off", on.user+"-purged"
		on.enable()
		if _, err := pending.store.Enroll(ctx, pending.user); err != nil {
			t.Fatal(err)
		}
		secret, _ := off.enable()
		if err := off.store.Disable(ctx, off.user, off.code(secret, 0)); err != nil {
			t.Fatal(err)
		}
		purged.enable()
		if err := mfa.NewPurger(b.Client).DeleteAll(ctx, purged.user); err != nil {
			t.Fatal(err)
		}
		l := mfa.NewLookup(b.Client)
		got, err := l.TOTPOn(ctx, []string{pending.user, on.user, off.user, purged.user, "nobody-" + on.user, on.user})
		if want := []bool{false, true, false, false, false, true}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("TOTPOn %v %v, want %v", got, err, want)
		}
		if got, err := l.TOTPOn(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("TOTPOn of no user: %v %v", got, err)
		}
	})
}

func TestLookupRedisDownIsUnavailable(t *testing.T) {
	b := testkit.Backends(t)[0]
	b.Mini.Close()
	if _, err := mfa.NewLookup(b.Client).TOTPOn(context.Background(), []string{"alice"}); !errors.Is(err, global.ErrStoreUnavailable) {
		t.Fatalf("TOTPOn with Redis down: %v, want ErrStoreUnavailable", err)
	}
}
