package utils_test

import (
	"context"
	"errors"
	"testing"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// TestSetPasswordHashIsConditional (review 1, finding 2): the user's own
// password change writes only into an existing account still at the version
// whose old password was checked; it never creates the key, so a change in
// flight while an admin deletes the user cannot bring the account back; it
// gives the account a new version, so a login racing it is caught.
func TestSetPasswordHashIsConditional(t *testing.T) {
	ctx := context.Background()
	const changed = "$argon2id$v=19$m=1024,t=1,p=1$bmV3$Y2hhbmdlZA"
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			before, err := f.users.Account(ctx, f.user)
			if err != nil {
				t.Fatal(err)
			}
			// A stale version (an admin's change in between) writes nothing.
			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpRoles, Roles: []string{"user"}}); err != nil {
				t.Fatal(err)
			}
			if err := f.users.SetPasswordHash(ctx, f.user, before.Version, changed); !errors.Is(err, global.ErrAccountChanged) {
				t.Fatalf("stale version: %v, want ErrAccountChanged", err)
			}
			now, _ := f.users.Account(ctx, f.user)
			if now.Hash != before.Hash {
				t.Fatalf("a stale change wrote the hash %q", now.Hash)
			}
			// The current version: written, with a new version.
			if err := f.users.SetPasswordHash(ctx, f.user, now.Version, changed); err != nil {
				t.Fatal(err)
			}
			after, _ := f.users.Account(ctx, f.user)
			if after.Hash != changed || after.Version == now.Version || after.Version == "" {
				t.Fatalf("after the change: hash %q version %q (was %q)", after.Hash, after.Version, now.Version)
			}
			// Deleted: nothing is created, the account stays gone.
			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpDelete}); err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{after.Version, ""} {
				if err := f.users.SetPasswordHash(ctx, f.user, v, changed); !errors.Is(err, global.ErrUserNotFound) {
					t.Fatalf("deleted user, version %q: %v, want ErrUserNotFound", v, err)
				}
			}
			if n := b.Client.Exists(ctx, global.KeyUser+"{"+f.user+"}").Val(); n != 0 {
				t.Fatal("a password change created the deleted user's key")
			}
			if _, err := f.users.Account(ctx, f.user); !errors.Is(err, global.ErrUserNotFound) {
				t.Fatalf("the deleted account came back: %v", err)
			}
		})
	}
}
