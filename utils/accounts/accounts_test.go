package accounts_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
	"go-jwt/utils/accounts"
)

const hash = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5"

func newStore(t *testing.T, b testkit.Backend) (*accounts.Store, *utils.Users) {
	users := utils.NewUsers(b.Client, []string{"user"})
	return accounts.New(b.Client, users, []string{"user"}, time.Now), users
}

// exclusive runs f on Redis backends of the test's own (the registry and
// the index are shared by every user), each emptied first.
func exclusive(t *testing.T, f func(t *testing.T, b testkit.Backend)) {
	for _, b := range testkit.ExclusiveBackends(t, 15) {
		t.Run(b.Name, func(t *testing.T) {
			if err := b.Client.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			f(t, b)
		})
	}
}

// registered is the names the registry counts as unlocked admins.
func registered(t *testing.T, b testkit.Backend) []string {
	all, err := b.Client.HGetAll(context.Background(), global.KeyAdmins).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, v := range all {
		if name != "#" && !strings.HasPrefix(v, "-") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestRegistryNeverOvercounts races promotions, demotions, locks and
// unlocks of the same users: afterwards the registry must name only users
// that are unlocked admins (it may never count one who is not), and with no
// failure in between it names exactly them.
func TestRegistryNeverOvercounts(t *testing.T) {
	exclusive(t, func(t *testing.T, b testkit.Backend) {
		s, users := newStore(t, b)
		ctx := context.Background()
		if _, err := s.Create(ctx, "keeper", hash, []string{"admin"}); err != nil {
			t.Fatal(err)
		}
		names := []string{"xa", "xb", "xc"}
		for _, n := range names {
			if _, err := s.Create(ctx, n, hash, nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 40 {
					n := names[(g+i)%len(names)]
					var err error
					switch (g + i) % 4 {
					case 0:
						_, err = s.SetRoles(ctx, n, []string{"admin"})
					case 1:
						_, err = s.SetRoles(ctx, n, []string{"user"})
					case 2:
						_, err = s.Lock(ctx, n)
					case 3:
						err = s.Unlock(ctx, n)
					}
					if err != nil && !errors.Is(err, global.ErrAccountChanged) {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		var live []string
		for _, n := range append(names, "keeper") {
			a, err := users.Account(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Locked && slices.Contains(a.Roles, "admin") {
				live = append(live, n)
			}
		}
		slices.Sort(live)
		if got := registered(t, b); !slices.Equal(got, live) {
			t.Fatalf("registry %v, unlocked admins %v", got, live)
		}
	})
}

// TestLastAdminRule on the store the command line uses.
func TestLastAdminRule(t *testing.T) {
	exclusive(t, func(t *testing.T, b testkit.Backend) {
		s, _ := newStore(t, b)
		ctx := context.Background()
		if _, err := s.Create(ctx, "root", hash, []string{"admin"}); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"demote": func() error { _, err := s.SetRoles(ctx, "root", []string{"user"}); return err }(),
			"lock":   func() error { _, err := s.Lock(ctx, "root"); return err }(),
			"delete": func() error { _, err := s.Delete(ctx, "root"); return err }(),
		} {
			if !errors.Is(err, global.ErrLastAdmin) {
				t.Errorf("%s the last admin: %v, want ErrLastAdmin", name, err)
			}
		}
		if _, err := s.SetPassword(ctx, "root", hash); err != nil {
			t.Fatalf("a password reset of the last admin: %v", err)
		}
		if got := registered(t, b); !slices.Equal(got, []string{"root"}) {
			t.Fatalf("registry %v after refused changes", got)
		}
	})
}

// TestBackfillIndexesOlderAccounts: users stored before the index existed
// are indexed at start-up, once; they get the default roles.
func TestBackfillIndexesOlderAccounts(t *testing.T) {
	exclusive(t, func(t *testing.T, b testkit.Backend) {
		ctx := context.Background()
		for i := range 30 { // an account of the previous version: no roles, no index
			if err := b.Client.HSet(ctx, global.KeyUser+"{old"+strconv.Itoa(i)+"}", "h", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA", "k", "a2V5", "c", "1").Err(); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := newStore(t, b)
		n, err := s.Backfill(ctx)
		if err != nil || n != 30 {
			t.Fatalf("backfill: %d, %v; want 30", n, err)
		}
		if n, err := s.Backfill(ctx); err != nil || n != 0 {
			t.Fatalf("second backfill: %d, %v; want nothing to do", n, err)
		}
		list, next, err := s.List(ctx, "", 200)
		if err != nil || len(list) != 30 || next != "" {
			t.Fatalf("list: %d users, next %q, %v", len(list), next, err)
		}
		if !slices.Equal(list[0].Roles, []string{"user"}) {
			t.Fatalf("an older account's roles %v, want the default", list[0].Roles)
		}
	})
}

// TestListSkipsHalfCreatedAccounts: an index entry whose user was never
// written (a creation that failed half-way) is not listed, and paging goes
// on past it.
func TestListSkipsHalfCreatedAccounts(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			s, _ := newStore(t, b)
			ctx := context.Background()
			p := testkit.Name(t)
			for _, n := range []string{p + "a", p + "c"} {
				if _, err := s.Create(ctx, n, hash, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Client.ZAdd(ctx, global.KeyUserIndex, redisZ(p+"b")).Err(); err != nil {
				t.Fatal(err)
			}
			list, next, err := s.List(ctx, p, 2)
			if err != nil || len(list) != 1 || list[0].Name != p+"a" || next != p+"b" {
				t.Fatalf("page 1: %+v next %q %v", list, next, err)
			}
			list, _, err = s.List(ctx, next, 1)
			if err != nil || len(list) != 1 || list[0].Name != p+"c" {
				t.Fatalf("page 2: %+v %v", list, err)
			}
		})
	}
}

func redisZ(member string) *redis.Z { return &redis.Z{Member: member} }

// TestLatePromotionDoesNotRegisterADemotedAdmin: a demotion that lands
// between a promotion's change and its registration wins; the promotion's
// late registration (an older ticket) is ignored, so the registry does not
// count a user who is no admin.
func TestLatePromotionDoesNotRegisterADemotedAdmin(t *testing.T) {
	exclusive(t, func(t *testing.T, b testkit.Backend) {
		s, users := newStore(t, b)
		ctx := context.Background()
		for name, roles := range map[string][]string{"keeper": {"admin"}, "x": nil} {
			if _, err := s.Create(ctx, name, hash, roles); err != nil {
				t.Fatal(err)
			}
		}
		slipped := false
		s.OnUpdated(func() {
			if !slipped { // the demotion's own gap passes by
				slipped = true
				if _, err := s.SetRoles(ctx, "x", []string{"user"}); err != nil {
					t.Error(err)
				}
			}
		})
		if _, err := s.SetRoles(ctx, "x", []string{"admin"}); err != nil {
			t.Fatal(err)
		}
		if a, _ := users.Account(ctx, "x"); slices.Contains(a.Roles, "admin") {
			t.Fatalf("x is %v: the demotion did not land last", a.Roles)
		}
		if got := registered(t, b); !slices.Equal(got, []string{"keeper"}) {
			t.Fatalf("registry %v: it counts a demoted admin", got)
		}
	})
}
