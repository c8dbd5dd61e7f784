// Package accounts is the service's accounts as an administrator sees them
// (SPEC §10): create, list, change roles, lock, unlock, set a password,
// delete; with the last-admin rule. The admin API (api/v1/admin.go) and the
// operator command line (package cli) both call it, so each rule has one
// copy.
//
// # Where each fact lives, and why (Redis Cluster)
//
// A user's roles, lock and account version live in the user's own hash
// (utils.Users), under the user's hash tag {name}: login, rotation and each
// change of one user are single scripts on one slot, so a token never
// carries roles older than the last change and a change reaches every
// session at once.
//
// "At least one unlocked admin must remain" is a fact about many users,
// whose hashes sit in different slots, and no script may touch two slots.
// So it is decided on one key of its own, global.KeyAdmins: a hash of the
// unlocked admins, decided in one script (check and write together), so two
// admins demoting each other at once cannot both succeed. That key can only
// be kept exactly in step with the users' hashes by ordering the two writes
// so that any gap between them undercounts, never overcounts:
//
//   - a change that removes an unlocked admin (demote, lock, delete) first
//     takes the name out of the registry, refused (global.ErrLastAdmin) if
//     no other unlocked admin is registered, and only then changes the user;
//   - a change that leaves an unlocked admin changes the user first and
//     registers the name after, with a ticket taken before the change: a
//     registration older than the name's last removal is ignored, so a slow
//     promotion cannot re-register someone demoted meanwhile.
//
// The user's change itself is conditional on the account version read
// before the check (utils.Users.Update), and is retried on a conflict. Hence
// the registry never names someone who is not an unlocked admin: the rule
// can only err on the side of refusing. If Redis fails between the two
// writes, an unlocked admin may be missing from the registry (the request
// gets a 503); any later change of that user that leaves them an admin, such
// as `go-jwt user roles NAME admin`, registers them again.
//
// The listing pages a sorted set of every username, global.KeyUserIndex,
// with ZRANGEBYLEX: one key, so one cursor (the last name of a page) works
// on a Cluster as on one node, and each user appears exactly once. A name is
// indexed before its user is written and un-indexed after the user is
// deleted, so every user is always indexed; an index entry without a user (a
// creation that failed half-way) is skipped.
package accounts

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
	"go-jwt/utils"
)

// maxAttempts bounds the retries of a change whose account changed between
// reading and writing it.
const maxAttempts = 5

// Store is the accounts on one Redis.
type Store struct {
	rdb      redis.UniversalClient
	users    *utils.Users
	defaults []string
	now      func() time.Time
	// updated, when set (tests only), runs between a user's change and its
	// registration as an admin: the gap the ticket order guards.
	updated func()
	// purgers delete what other capabilities keep of a user (second
	// factor, passkeys) when the account is deleted.
	purgers []Purger
}

// Purger deletes one capability's state of a user (mfa.Purger,
// passkey.Store): Delete runs each, so a name registered again inherits
// nothing of the old account.
type Purger interface {
	DeleteAll(ctx context.Context, user string) error
}

// PurgeOnDelete adds p to what Delete removes with an account.
func (s *Store) PurgeOnDelete(p ...Purger) { s.purgers = append(s.purgers, p...) }

// purge runs every purger for name. Delete runs it after the account is
// gone, and Create before a new account takes the name, so leftovers of a
// delete whose purge failed half-way are never inherited.
func (s *Store) purge(ctx context.Context, name string) error {
	for _, p := range s.purgers {
		if err := p.DeleteAll(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// New returns the accounts kept by users on rdb; a new account without
// roles given gets defaults (DEFAULT_ROLES).
func New(rdb redis.UniversalClient, users *utils.Users, defaults []string, now func() time.Time) *Store {
	return &Store{rdb: rdb, users: users, defaults: defaults, now: now}
}

// liveAdmin is what the registry counts: an unlocked admin.
func liveAdmin(roles []string, locked bool) bool {
	return !locked && utils.HasRole(roles, global.RoleAdmin)
}

// Create stores a new account with the password hash and roles (nil:
// the default roles; else they are validated, ErrInvalidRequest when bad);
// global.ErrConflict if the name is taken.
func (s *Store) Create(ctx context.Context, name, hash string, roles []string) (utils.Account, error) {
	if roles == nil {
		roles = s.defaults
	}
	roles, err := utils.ParseRoles(roles)
	if err != nil {
		return utils.Account{}, err
	}
	if err := s.rdb.ZAdd(ctx, global.KeyUserIndex, &redis.Z{Member: name}).Err(); err != nil {
		return utils.Account{}, storeErr(err)
	}
	admin := liveAdmin(roles, false)
	var ticket int64
	if admin {
		if ticket, err = s.ticket(ctx); err != nil {
			return utils.Account{}, err
		}
	}
	if len(s.purgers) > 0 {
		switch _, err := s.users.Account(ctx, name); {
		case errors.Is(err, global.ErrUserNotFound):
			if err := s.purge(ctx, name); err != nil {
				return utils.Account{}, err
			}
		case err != nil:
			return utils.Account{}, err
		default:
			return utils.Account{}, global.ErrConflict
		}
	}
	now := s.now()
	if err := s.users.Create(ctx, name, hash, roles, now); err != nil {
		return utils.Account{}, err
	}
	if admin {
		if err := s.register(ctx, name, ticket); err != nil {
			return utils.Account{}, err
		}
	}
	return utils.Account{Name: name, Roles: roles, CreatedAt: time.Unix(now.Unix(), 0).UTC()}, nil
}

// Get returns the account of name with its live session count;
// global.ErrNotFound if there is none.
func (s *Store) Get(ctx context.Context, name string) (utils.Account, error) {
	list, err := s.users.Accounts(ctx, []string{name}, s.now())
	if err != nil {
		return utils.Account{}, err
	}
	if len(list) == 0 {
		return utils.Account{}, global.ErrNotFound
	}
	return list[0], nil
}

// List returns up to limit accounts in name order after cursor ("" from
// the start), and the cursor of the next page ("" on the last one).
func (s *Store) List(ctx context.Context, cursor string, limit int) ([]utils.Account, string, error) {
	lowest := "-"
	if cursor != "" {
		lowest = "(" + cursor
	}
	names, err := s.rdb.ZRangeByLex(ctx, global.KeyUserIndex, &redis.ZRangeBy{Min: lowest, Max: "+", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", storeErr(err)
	}
	next := ""
	if len(names) > limit {
		names = names[:limit]
		next = names[limit-1]
	}
	list, err := s.users.Accounts(ctx, names, s.now())
	return list, next, err
}

// SetRoles replaces the roles of name (validated: ErrInvalidRequest when
// bad): the user's live access tokens stop working, their refresh tokens
// keep working and the next refresh carries the new roles.
func (s *Store) SetRoles(ctx context.Context, name string, roles []string) (utils.Account, error) {
	roles, err := utils.ParseRoles(roles)
	if err != nil {
		return utils.Account{}, err
	}
	a, _, err := s.change(ctx, name, utils.Change{Op: utils.OpRoles, Roles: roles})
	return a, err
}

// Lock locks name and revokes every session; it returns how many.
func (s *Store) Lock(ctx context.Context, name string) (int, error) {
	_, n, err := s.change(ctx, name, utils.Change{Op: utils.OpLock})
	return n, err
}

// Unlock unlocks name.
func (s *Store) Unlock(ctx context.Context, name string) error {
	_, _, err := s.change(ctx, name, utils.Change{Op: utils.OpUnlock})
	return err
}

// SetPassword gives name the password hash and revokes every session; it
// returns how many.
func (s *Store) SetPassword(ctx context.Context, name, hash string) (int, error) {
	_, n, err := s.change(ctx, name, utils.Change{Op: utils.OpPassword, Hash: hash})
	return n, err
}

// Delete revokes every session of name and deletes the account; the name
// can be registered again. It returns how many sessions it revoked.
func (s *Store) Delete(ctx context.Context, name string) (int, error) {
	_, n, err := s.change(ctx, name, utils.Change{Op: utils.OpDelete})
	if err != nil {
		return 0, err
	}
	if err := s.purge(ctx, name); err != nil {
		return n, err
	}
	return n, storeErr(s.rdb.ZRem(ctx, global.KeyUserIndex, name).Err())
}

// change applies ch to name under the last-admin rule (see the package
// comment) and returns the account as it now is and the sessions it cut or
// revoked.
func (s *Store) change(ctx context.Context, name string, ch utils.Change) (utils.Account, int, error) {
	for range maxAttempts {
		a, err := s.users.Account(ctx, name)
		if errors.Is(err, global.ErrUserNotFound) {
			return a, 0, global.ErrNotFound
		}
		if err != nil {
			return a, 0, err
		}
		before := liveAdmin(a.Roles, a.Locked)
		after := apply(&a, ch)
		var ticket int64
		switch {
		case before && !after:
			err = s.unregister(ctx, name)
		case after:
			ticket, err = s.ticket(ctx)
		}
		if err != nil {
			return a, 0, err
		}
		n, err := s.users.Update(ctx, name, a.Version, ch)
		switch {
		case errors.Is(err, global.ErrAccountChanged):
			continue // the registry can only have lost the name: read again
		case errors.Is(err, global.ErrUserNotFound):
			return a, 0, global.ErrNotFound
		case err != nil:
			return a, 0, err
		}
		if s.updated != nil {
			s.updated()
		}
		if after {
			err = s.register(ctx, name, ticket)
		}
		if ch.Op == utils.OpRoles {
			a.Sessions = n // every live session had its access token cut
		}
		return a, n, err
	}
	return utils.Account{}, 0, &global.RetryError{Err: global.ErrAccountChanged, After: time.Second}
}

// apply changes a as ch will and tells whether a is then an unlocked admin.
func apply(a *utils.Account, ch utils.Change) bool {
	switch ch.Op {
	case utils.OpRoles:
		a.Roles = ch.Roles
	case utils.OpLock:
		a.Locked = true
	case utils.OpUnlock:
		a.Locked = false
	case utils.OpDelete:
		return false
	}
	return liveAdmin(a.Roles, a.Locked)
}

// ticketField is the registry's ticket counter; no username holds '#'.
const ticketField = "#"

// ticket takes the next registry ticket.
func (s *Store) ticket(ctx context.Context) (int64, error) {
	t, err := s.rdb.HIncrBy(ctx, global.KeyAdmins, ticketField, 1).Result()
	return t, storeErr(err)
}

// registerScript records ARGV[1] as an unlocked admin as of ticket ARGV[2],
// unless an entry (live or removed) with a later ticket exists.
var registerScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if math.abs(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

func (s *Store) register(ctx context.Context, name string, ticket int64) error {
	return storeErr(registerScript.Run(ctx, s.rdb, []string{global.KeyAdmins}, name, ticket).Err())
}

// unregisterScript removes ARGV[1] from the unlocked admins (a tombstone
// with a new ticket) if another unlocked admin remains; else it returns 0
// and changes nothing.
var unregisterScript = redis.NewScript(`
local all, others = redis.call('HGETALL', KEYS[1]), 0
for i = 1, #all, 2 do
  if all[i] ~= '#' and all[i] ~= ARGV[1] and tonumber(all[i + 1]) > 0 then others = others + 1 end
end
if others == 0 then return 0 end
local t = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('HSET', KEYS[1], ARGV[1], -t)
return t
`)

func (s *Store) unregister(ctx context.Context, name string) error {
	t, err := unregisterScript.Run(ctx, s.rdb, []string{global.KeyAdmins}, name).Int64()
	if err != nil {
		return storeErr(err)
	}
	if t == 0 {
		return global.ErrLastAdmin
	}
	return nil
}

// storeErr wraps a Redis failure as global.ErrStoreUnavailable (a 503).
func storeErr(err error) error { return utils.StoreErr(err) }

// Backfill indexes the accounts stored before the index existed: when the
// index key is missing, it scans every master for user hashes. It returns
// how many names it indexed. Start-up runs it before anything creates a
// user.
func (s *Store) Backfill(ctx context.Context) (int, error) {
	exists, err := s.rdb.Exists(ctx, global.KeyUserIndex).Result()
	if err != nil || exists == 1 {
		return 0, storeErr(err)
	}
	var n atomic.Int64 // ForEachMaster scans the masters at once
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, global.KeyUser+"{*}", 1000).Iterator()
		for iter.Next(ctx) {
			name := strings.TrimSuffix(strings.TrimPrefix(iter.Val(), global.KeyUser+"{"), "}")
			if err := s.rdb.ZAdd(ctx, global.KeyUserIndex, &redis.Z{Member: name}).Err(); err != nil {
				return err
			}
			n.Add(1)
		}
		return iter.Err()
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.rdb)
	}
	return int(n.Load()), storeErr(err)
}

// LogAction writes the security event of one admin action, by the admin
// API and the command line alike: who (actor), what (action), to whom
// (target), and attrs (the request id, the sessions revoked ...).
func LogAction(log *slog.Logger, actor, action, target string, attrs ...any) {
	log.Info("admin action", append([]any{"actor", actor, "action", action, "target", target}, attrs...)...)
}
