package passkey_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"go-jwt/global"
	"go-jwt/test/testkit"
)

// TestAddNeedsTheCheckedHandle (review 1, finding 3): a registration whose
// ceremony was checked against one user handle stores its credential only
// while the user's hash holds that handle. A registration in flight while
// the user is deleted (DeleteAll between its check and its write) creates
// no hash without a handle, and none adds to a handle made since.
func TestAddNeedsTheCheckedHandle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
		user := testkit.Name(t)
		key := global.KeyPasskeys + "{" + user + "}"
		checked, err := f.store.Handle(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		cred := &webauthn.Credential{ID: []byte("credential-1")}
		// Deleted between the check and the write: nothing is created.
		if err := f.store.DeleteAll(ctx, user); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Add(ctx, user, "late", checked, cred, now); !errors.Is(err, global.ErrPasskeyInvalid) {
			t.Fatalf("add after the purge: %v, want ErrPasskeyInvalid", err)
		}
		if n := b.Client.Exists(ctx, key).Val(); n != 0 {
			t.Fatal("a late registration created the purged user's passkey hash")
		}
		// The name's next owner has another handle: the old ceremony's
		// credential is not added to it.
		fresh, err := f.store.Handle(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Add(ctx, user, "late", checked, cred, now); !errors.Is(err, global.ErrPasskeyInvalid) {
			t.Fatalf("add under the old handle: %v, want ErrPasskeyInvalid", err)
		}
		if n, err := f.store.Count(ctx, user); err != nil || n != 0 {
			t.Fatalf("the new owner has %d passkeys (%v), want 0", n, err)
		}
		// Its own handle: stored.
		if _, err := f.store.Add(ctx, user, "mine", fresh, cred, now); err != nil {
			t.Fatal(err)
		}
		if n, err := f.store.Count(ctx, user); err != nil || n != 1 {
			t.Fatalf("%d passkeys (%v), want 1", n, err)
		}
	})
}

// TestDeleteAllWithoutHandle (review 1, finding 3): DeleteAll deletes the
// user's passkey hash even when it holds no handle field, so no credential
// of it survives for the next owner of the name; with a handle, the handle
// index goes too.
func TestDeleteAllWithoutHandle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		user := testkit.Name(t)
		key := global.KeyPasskeys + "{" + user + "}"
		if err := b.Client.HSet(ctx, key, "c:AAAA", `{"name":"orphan","created":1}`, "n:AAAA", 0, "l:AAAA", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := f.store.Count(ctx, user); err != nil || n != 1 {
			t.Fatalf("setup: %d passkeys (%v)", n, err)
		}
		if err := f.store.DeleteAll(ctx, user); err != nil {
			t.Fatal(err)
		}
		if n := b.Client.Exists(ctx, key).Val(); n != 0 {
			t.Fatal("DeleteAll left a passkey hash without a handle")
		}
		if n, err := f.store.Count(ctx, user); err != nil || n != 0 {
			t.Fatalf("after DeleteAll: %d passkeys (%v), want 0", n, err)
		}
		// With a handle: the hash and the handle index.
		f.register(t, testkit.NewAuthenticator(origin), user)
		handle, err := f.store.Handle(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.DeleteAll(ctx, user); err != nil {
			t.Fatal(err)
		}
		if n := b.Client.Exists(ctx, key, global.KeyPasskeyHandle+base64.RawURLEncoding.EncodeToString(handle)).Val(); n != 0 {
			t.Fatalf("DeleteAll left %d of the hash and the handle index", n)
		}
	})
}
