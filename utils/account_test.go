package utils_test

import (
	"context"
	"errors"
	"github.com/google/uuid"
	"slices"
	"strings"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

func TestParseRoles(t *testing.T) {
	many := make([]string, 17)
	for i := range many {
		many[i] = "r" + strings.Repeat("x", i)
	}
	tests := []struct {
		name string
		in   []string
		want []string // nil: refused
	}{
		{"sorted, duplicates dropped", []string{"user", "admin", "user"}, []string{"admin", "user"}},
		{"none", []string{}, []string{}},
		{"digits, dash and underscore after the first letter", []string{"a1_b-c"}, []string{"a1_b-c"}},
		{"32 characters", []string{"a" + strings.Repeat("b", 31)}, []string{"a" + strings.Repeat("b", 31)}},
		{"16 roles", many[:16], many[:16]},
		{"33 characters", []string{"a" + strings.Repeat("b", 32)}, nil},
		{"upper case", []string{"Admin"}, nil},
		{"starts with a digit", []string{"1a"}, nil},
		{"empty", []string{""}, nil},
		{"space", []string{"a b"}, nil},
		{"comma (the stored separator)", []string{"a,b"}, nil},
		{"17 roles", many, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := utils.ParseRoles(tt.in)
			if tt.want == nil {
				if !errors.Is(err, global.ErrInvalidRequest) {
					t.Fatalf("ParseRoles(%q) = %v, %v; want ErrInvalidRequest", tt.in, got, err)
				}
				return
			}
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("ParseRoles(%q) = %v, %v; want %v", tt.in, got, err, want)
			}
		})
	}
}

// TestAccountChanges: what each Update does to the sessions, and that
// opening or rotating a session for an account read before a change fails.
func TestAccountChanges(t *testing.T) {
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p := f.login(t)
			before := f.version(t)
			n, err := f.users.Update(ctx, f.user, before, utils.Change{Op: utils.OpRoles, Roles: []string{"editor", "user"}})
			if err != nil || n != 1 {
				t.Fatalf("role change: %d, %v", n, err)
			}
			if err := f.check(p); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("access token after a role change: %v, want revoked", err)
			}
			if err := f.sessions.CheckRefresh(ctx, &p.RefreshClaims); err != nil {
				t.Fatalf("refresh token after a role change: %v, want live", err)
			}
			key := global.KeySession + "{" + f.user + "}:" + rawSID(t, p.AccessClaims.SessionID)
			if ttl := b.Client.PTTL(ctx, key).Val(); ttl <= 0 {
				t.Fatalf("the session lost its expiry in the role change: %v", ttl)
			}
			if _, err := f.users.Update(ctx, f.user, before, utils.Change{Op: utils.OpLock}); !errors.Is(err, global.ErrAccountChanged) {
				t.Fatalf("a change for a version read before another: %v, want ErrAccountChanged", err)
			}
			a, err := f.users.Account(ctx, f.user)
			if err != nil || !slices.Equal(a.Roles, []string{"editor", "user"}) || a.Version == before {
				t.Fatalf("account after the role change: %+v %v", a, err)
			}

			// A pair signed for the old version is not opened; a rotation
			// reads the roles of now, in the same script.
			next, err := f.codec.Issue(f.user, p.AccessClaims.SessionID, f.clock.Now(), []string{"user"})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.sessions.Create(ctx, &next, utils.Client{}, before); !errors.Is(err, global.ErrAccountChanged) {
				t.Fatalf("open a session for an old version: %v", err)
			}
			roles, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, utils.Client{})
			if err != nil || !slices.Equal(f.users.Roles(roles), []string{"editor", "user"}) {
				t.Fatalf("rotation after the role change: roles %+v, %v; want the new ones", roles, err)
			}
			if _, err := f.rotate(t, next); err != nil {
				t.Fatalf("the next rotation: %v", err)
			}

			if n, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpLock}); err != nil || n != 1 {
				t.Fatalf("lock: %d %v", n, err)
			}
			p2, err := f.codec.Issue(f.user, "7d1c4f3e-9a0b-4c1d-8e2f-3a4b5c6d7e8f", f.clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.sessions.Create(ctx, &p2, utils.Client{}, f.version(t)); !errors.Is(err, global.ErrAccountLocked) {
				t.Fatalf("a session for a locked account: %v, want ErrAccountLocked", err)
			}
			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpDelete}); err != nil {
				t.Fatal(err)
			}
			if n := b.Client.Exists(ctx, key, global.KeyUser+"{"+f.user+"}").Val(); n != 0 {
				t.Fatalf("%d of the user's keys left after the delete", n)
			}
			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpRoles}); !errors.Is(err, global.ErrUserNotFound) {
				t.Fatalf("a change of a deleted user: %v", err)
			}
		})
	}
}

// TestRoleChangeCreatesNoSessionKeys: an index entry whose session expired
// is not turned into a key without expiry by the role change.
func TestRoleChangeCreatesNoSessionKeys(t *testing.T) {
	b := testkit.Backends(t)[0]
	f := newFixture(t, b, 0)
	p := f.login(t)
	key := global.KeySession + "{" + f.user + "}:" + rawSID(t, p.AccessClaims.SessionID)
	b.Client.Del(context.Background(), key) // expired; the index still names it
	if n, err := f.users.Update(context.Background(), f.user, utils.AnyVersion, utils.Change{Op: utils.OpRoles, Roles: []string{}}); err != nil || n != 0 {
		t.Fatalf("role change: %d %v", n, err)
	}
	if b.Mini.Exists(key) {
		t.Fatal("the role change created the expired session's key")
	}
}

// TestRehashNeverRevertsAPasswordChange: a rehash (same password, new
// parameters) computed from the old hash is dropped when the password was
// changed meanwhile, and it leaves the account version alone.
func TestRehashNeverRevertsAPasswordChange(t *testing.T) {
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			old, err := f.users.Account(ctx, f.user)
			if err != nil {
				t.Fatal(err)
			}
			const rehashed, changed = "$argon2id$v=19$m=2048,t=1,p=1$c2FsdA$cmVoYXNoZWQ", "$argon2id$v=19$m=1024,t=1,p=1$bmV3$Y2hhbmdlZA"
			if err := f.users.Rehash(ctx, f.user, old.Hash, rehashed); err != nil {
				t.Fatal(err)
			}
			if a, _ := f.users.Account(ctx, f.user); a.Hash != rehashed || a.Version != old.Version {
				t.Fatalf("rehash: %q version %q, want the new hash and the same version", a.Hash, a.Version)
			}
			if err := f.users.SetPasswordHash(ctx, f.user, old.Version, changed); err != nil {
				t.Fatal(err)
			}
			if err := f.users.Rehash(ctx, f.user, rehashed, "$argon2id$v=19$m=4096,t=1,p=1$c2FsdA$c3RhbGU"); err != nil {
				t.Fatal(err)
			}
			if a, _ := f.users.Account(ctx, f.user); a.Hash != changed || a.Version == old.Version {
				t.Fatalf("after a password change a stale rehash wrote %q (version %q)", a.Hash, a.Version)
			}
		})
	}
}

// rawSID is the 16 bytes a session id is stored under (session_layout.go).
func rawSID(t *testing.T, sid string) string {
	t.Helper()
	u, err := uuid.Parse(sid)
	if err != nil {
		t.Fatal(err)
	}
	return string(u[:])
}

// TestRefreshRacingARoleChange: the rotation reads the roles in its own
// script and the pair is signed after it. A role change landing between
// the two cuts the new access token (signed with the old roles) at its
// first use, and the next rotation carries the new roles; a locked or
// deleted account is not rotated at all; an account stored before roles
// existed gets the default ones.
func TestRefreshRacingARoleChange(t *testing.T) {
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p := f.login(t)
			next, err := f.codec.NewPair(f.user, p.RefreshClaims.SessionID, time.Unix(p.RefreshClaims.AuthTime, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			roles, err := f.sessions.Rotate(ctx, &p.RefreshClaims, &next, utils.Client{})
			if err != nil || !slices.Equal(f.users.Roles(roles), []string{"user"}) {
				t.Fatalf("rotation: roles %+v, %v", roles, err)
			}
			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpRoles, Roles: []string{"admin", "user"}}); err != nil {
				t.Fatal(err)
			}
			if err := f.codec.Sign(&next, f.users.Roles(roles)); err != nil {
				t.Fatal(err)
			}
			if err := f.check(next); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("an access token signed with the roles from before the change: %v, want revoked", err)
			}
			after, err := f.rotate(t, next)
			if err != nil {
				t.Fatal(err)
			}
			third, err := f.codec.NewPair(f.user, p.RefreshClaims.SessionID, time.Unix(p.RefreshClaims.AuthTime, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			if roles, err = f.sessions.Rotate(ctx, &after.RefreshClaims, &third, utils.Client{}); err != nil || !slices.Equal(f.users.Roles(roles), []string{"admin", "user"}) {
				t.Fatalf("the rotation after the change: roles %+v, %v; want the new ones", roles, err)
			}

			// Stored before roles existed: the default roles.
			if err := b.Client.HDel(ctx, global.KeyUser+"{"+f.user+"}", "r").Err(); err != nil {
				t.Fatal(err)
			}
			fourth, _ := f.codec.NewPair(f.user, p.RefreshClaims.SessionID, time.Unix(p.RefreshClaims.AuthTime, 0), "")
			if roles, err = f.sessions.Rotate(ctx, &third.RefreshClaims, &fourth, utils.Client{}); err != nil || roles.Set || !slices.Equal(f.users.Roles(roles), []string{"user"}) {
				t.Fatalf("an account without roles: %+v, %v; want the defaults", roles, err)
			}

			if _, err := f.users.Update(ctx, f.user, utils.AnyVersion, utils.Change{Op: utils.OpLock}); err != nil {
				t.Fatal(err)
			}
			fifth, _ := f.codec.NewPair(f.user, p.RefreshClaims.SessionID, time.Unix(p.RefreshClaims.AuthTime, 0), "")
			if _, err := f.sessions.Rotate(ctx, &fourth.RefreshClaims, &fifth, utils.Client{}); !errors.Is(err, global.ErrTokenRevoked) {
				t.Fatalf("a locked account's rotation: %v, want revoked", err)
			}
		})
	}
}
