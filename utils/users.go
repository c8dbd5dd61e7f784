package utils

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Username rules: 3 to 64 letters, digits, '_', '.', '-', compared without
// case. No braces or colons can appear, so a name is safe inside a Redis key
// and its {hash tag}.
const (
	minUsername = 3
	maxUsername = 64
)

// CanonicalUsername validates name and returns the form it is stored under
// (lower case), so "Kesa" and "kesa" are one user.
func CanonicalUsername(name string) (string, error) {
	if len(name) < minUsername || len(name) > maxUsername {
		return "", fmt.Errorf("username must be %d to %d characters", minUsername, maxUsername)
	}
	for _, r := range name {
		if !validNameRune(r) {
			return "", errors.New("username may hold only letters, digits, '_', '.' and '-'")
		}
	}
	return strings.ToLower(name), nil
}

func validNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}

// Users keeps accounts in Redis: one hash per user at global.KeyUser+"{name}"
// with the password hash split in two fields, h (algorithm, parameters and
// salt) and k (the derived key), the creation time c, the roles r (a comma
// list), l ("1" while locked) and the account version v (see Account). Split,
// every value stays under Redis's 64-byte limit for the compact listpack
// encoding, which matters because the same hash indexes the user's sessions
// (see Sessions).
type Users struct {
	rdb      redis.UniversalClient
	defaults []string
}

// NewUsers returns a user store on rdb. defaults are the roles of an account
// stored before roles existed (no r field).
func NewUsers(rdb redis.UniversalClient, defaults []string) *Users {
	return &Users{rdb: rdb, defaults: defaults}
}

func userKey(name string) string { return global.KeyUser + "{" + name + "}" }

// splitHash cuts a PHC string before its last '$': parameters and salt, key.
func splitHash(hash string) (string, string) {
	i := strings.LastIndexByte(hash, '$')
	if i < 0 {
		return hash, ""
	}
	return hash[:i], hash[i+1:]
}

var createUserScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'h', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'k', ARGV[2], 'c', ARGV[3], 'r', ARGV[4], 'v', ARGV[5])
return 1
`)

// Create stores a new user with roles (sorted, valid: ParseRoles);
// global.ErrConflict if the name is taken. One script decides and writes, so
// of many concurrent registrations exactly one wins and no half-written user
// is ever seen. Callers create users through accounts.Store, which also
// indexes them.
func (u *Users) Create(ctx context.Context, name, hash string, roles []string, now time.Time) error {
	head, key := splitHash(hash)
	created, err := createUserScript.Run(ctx, u.rdb, []string{userKey(name)}, head, key, now.Unix(), joinRoles(roles), newVersion()).Int()
	if err != nil {
		return storeErr(err)
	}
	if created == 0 {
		return global.ErrConflict
	}
	return nil
}

// PasswordHash returns the stored hash of name; global.ErrUserNotFound if
// there is no such user.
func (u *Users) PasswordHash(ctx context.Context, name string) (string, error) {
	v, err := u.rdb.HMGet(ctx, userKey(name), "h", "k").Result()
	if err != nil {
		return "", storeErr(err)
	}
	head, _ := v[0].(string)
	key, _ := v[1].(string)
	if head == "" || key == "" {
		return "", global.ErrUserNotFound
	}
	return head + "$" + key, nil
}

// setPasswordScript writes a new password hash (ARGV[2], ARGV[3]) and
// account version (ARGV[4]) into the user's hash KEYS[1] only if the user
// exists (else -1) and is at version ARGV[1] (else -2): it never creates
// the key.
var setPasswordScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'h', 'v')
if not cur[1] then return -1 end
if (cur[2] or '') ~= ARGV[1] then return -2 end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'k', ARGV[3], 'v', ARGV[4])
return 1
`)

// SetPasswordHash replaces the stored hash of name (a new password chosen
// by the user) if the account is still at version, the one whose old
// password was checked: else global.ErrAccountChanged, and nothing is
// written; global.ErrUserNotFound if the user is gone (a deleted account is
// never brought back). The account version changes, so a login that checked
// the old password cannot open its session any more. Unlike
// Update(OpPassword) it revokes no session (the caller keeps its own).
func (u *Users) SetPasswordHash(ctx context.Context, name, version, hash string) error {
	head, key := splitHash(hash)
	n, err := setPasswordScript.Run(ctx, u.rdb, []string{userKey(name)}, version, head, key, newVersion()).Int()
	switch {
	case err != nil:
		return storeErr(err)
	case n == -1:
		return global.ErrUserNotFound
	case n == -2:
		return global.ErrAccountChanged
	}
	return nil
}

var rehashScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'k', ARGV[3])
return 1
`)

// Rehash stores hash, the same password under the current parameters, in
// place of old, unless the password was changed meanwhile (then nothing is
// written: a rehash must never bring an old password back). The account
// version stays: the password is the same.
func (u *Users) Rehash(ctx context.Context, name, old, hash string) error {
	oldHead, _ := splitHash(old)
	head, key := splitHash(hash)
	return storeErr(rehashScript.Run(ctx, u.rdb, []string{userKey(name)}, oldHead, head, key).Err())
}

// StoreErr is storeErr for the stores of other packages (utils/accounts).
func StoreErr(err error) error { return storeErr(err) }

// storeErr wraps any Redis failure (network, timeout, OOM) as
// global.ErrStoreUnavailable, so it becomes a 503 and never a 401 or 500.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err)
}
