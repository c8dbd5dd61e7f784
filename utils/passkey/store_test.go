package passkey_test

import (
	"context"
	"errors"
	"testing"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/passkey"
)

func TestDeletedPasskeyStopsAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		user, other := testkit.Name(t), testkit.Name(t)
		a, keep := testkit.NewAuthenticator(origin), testkit.NewAuthenticator(origin)
		p := f.register(t, a, user)
		f.register(t, keep, user)
		// Another user cannot delete it: lookups go by the caller's name.
		if err := f.store.Delete(ctx, other, p.ID); !errors.Is(err, global.ErrNotFound) {
			t.Fatalf("another user's delete: %v, want ErrNotFound", err)
		}
		if _, err := f.login(t, a, testkit.Tweak{}); err != nil {
			t.Fatalf("sign-in before delete: %v", err)
		}
		// A sign-in begun before the delete and finished after it fails too.
		c := f.beginLogin(t)
		if err := f.store.Delete(ctx, user, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.rp.FinishLogin(ctx, c.ID, a.Get(t, asJSON(t, c), testkit.Tweak{})); !errors.Is(err, global.ErrPasskeyRefused) {
			t.Fatalf("sign-in with a deleted passkey: %v", err)
		}
		if err := f.store.Delete(ctx, user, p.ID); !errors.Is(err, global.ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
		if name, err := f.login(t, keep, testkit.Tweak{}); err != nil || name != user {
			t.Fatalf("the other passkey: %q %v", name, err)
		}
	})
}

// TestDeleteAll: deleting a user deletes their passkeys and user handle, so
// a new account under the same name inherits nothing.
func TestDeleteAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		user, bystander := testkit.Name(t), testkit.Name(t)
		a, c := testkit.NewAuthenticator(origin), testkit.NewAuthenticator(origin)
		f.register(t, a, user)
		f.register(t, c, bystander)
		old, err := f.store.Handle(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteAll(ctx, user); err != nil {
			t.Fatal(err)
		}
		if list, err := f.store.List(ctx, user); err != nil || len(list) != 0 {
			t.Fatalf("passkeys left: %+v %v", list, err)
		}
		if _, err := f.store.UserByHandle(ctx, old); !errors.Is(err, global.ErrNotFound) {
			t.Fatalf("the old handle still names someone: %v", err)
		}
		// The name is registered again: a new handle, and the old passkey
		// signs nobody in.
		fresh, err := f.store.Handle(ctx, user)
		if err != nil || string(fresh) == string(old) {
			t.Fatalf("new handle %x (old %x), %v", fresh, old, err)
		}
		if _, err := f.login(t, a, testkit.Tweak{}); !errors.Is(err, global.ErrPasskeyRefused) {
			t.Fatalf("the deleted user's passkey: %v", err)
		}
		if name, err := f.login(t, c, testkit.Tweak{}); err != nil || name != bystander {
			t.Fatalf("another user's passkey after DeleteAll: %q %v", name, err)
		}
		if err := f.store.DeleteAll(ctx, testkit.Name(t)); err != nil {
			t.Fatalf("DeleteAll of a user without passkeys: %v", err)
		}
	})
}

func TestHandle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		s := passkey.NewStore(b.Client)
		ctx := context.Background()
		user := testkit.Name(t)
		h1, err := s.Handle(ctx, user)
		if err != nil || len(h1) != 32 {
			t.Fatalf("handle %x, %v", h1, err)
		}
		h2, err := s.Handle(ctx, user)
		if err != nil || string(h1) != string(h2) {
			t.Fatalf("handle not stable: %x then %x, %v", h1, h2, err)
		}
		if name, err := s.UserByHandle(ctx, h1); err != nil || name != user {
			t.Fatalf("by handle: %q %v", name, err)
		}
		if _, err := s.UserByHandle(ctx, []byte("no such handle")); !errors.Is(err, global.ErrNotFound) {
			t.Fatalf("unknown handle: %v", err)
		}
		// An index entry whose user's hash holds another handle (a stale
		// entry) is not believed.
		if err := b.Client.Set(ctx, global.KeyPasskeyHandle+"c3RhbGU", user, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UserByHandle(ctx, []byte("stale")); !errors.Is(err, global.ErrNotFound) {
			t.Fatalf("stale index entry believed: %v", err)
		}
	})
}
