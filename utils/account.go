package utils

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Account is what the user store knows of one user besides the sessions
// themselves.
//
// Version is an opaque token that changes with every write that must end or
// re-issue sessions: roles, lock, unlock, a new password. Login and rotation
// read the account, sign, and then open or rotate the session in one script
// only if the version is still the one they read (else
// global.ErrAccountChanged, and they read again), so a token never carries
// roles older than the last change, and no session is opened for an account
// locked, deleted or re-passworded in between.
type Account struct {
	Name      string
	Hash      string // PHC string of the password hash
	Roles     []string
	Locked    bool
	Version   string
	CreatedAt time.Time
	// Sessions counts the live sessions; only Accounts fills it in.
	Sessions int
}

// newVersion returns a fresh account version: 8 random bytes, 11 characters.
func newVersion() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux (Go 1.24+ panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// accountFields are read by Account, in this order.
var accountFields = []string{"h", "k", "c", "r", "l", "v"}

// Account returns the account of name; global.ErrUserNotFound if there is
// none. One HMGET of the user's hash (a login's; a refresh reads the
// account in its rotation script).
func (u *Users) Account(ctx context.Context, name string) (Account, error) {
	v, err := u.rdb.HMGet(ctx, userKey(name), accountFields...).Result()
	if err != nil {
		return Account{}, storeErr(err)
	}
	f := make(map[string]string, len(v))
	for i, x := range v {
		if s, ok := x.(string); ok {
			f[accountFields[i]] = s
		}
	}
	return u.account(name, f)
}

// StoredRoles is an account's roles field as Redis holds it (Set false:
// the account was stored before roles existed).
type StoredRoles struct {
	Text string
	Set  bool
}

// Roles returns the roles r stands for: the default ones for an account
// stored before roles existed.
func (u *Users) Roles(r StoredRoles) []string {
	if !r.Set {
		return append([]string{}, u.defaults...)
	}
	return splitRoles(r.Text)
}

// account builds an Account from the fields of a user's hash.
func (u *Users) account(name string, f map[string]string) (Account, error) {
	if f["h"] == "" || f["k"] == "" {
		return Account{}, global.ErrUserNotFound
	}
	a := Account{Name: name, Hash: f["h"] + "$" + f["k"], Locked: f["l"] != "", Version: f["v"]}
	r, ok := f["r"]
	a.Roles = u.Roles(StoredRoles{Text: r, Set: ok})
	if c, err := strconv.ParseInt(f["c"], 10, 64); err == nil {
		a.CreatedAt = time.Unix(c, 0).UTC()
	}
	return a, nil
}

// Accounts returns the accounts of names that exist, in the order given,
// each with its count of live sessions (index entries not yet expired at
// now): one pipelined HGETALL per user, which a Cluster client sends to each
// user's node.
func (u *Users) Accounts(ctx context.Context, names []string, now time.Time) ([]Account, error) {
	cmds := make([]*redis.StringStringMapCmd, len(names))
	_, err := u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HGetAll(ctx, userKey(n))
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Account, 0, len(names))
	for i, cmd := range cmds {
		f := cmd.Val()
		a, err := u.account(names[i], f)
		if err != nil {
			continue // indexed, but gone or not yet written (accounts.Store)
		}
		for k, exp := range f {
			if strings.HasPrefix(k, indexPrefix) {
				if e, err := strconv.ParseInt(exp, 10, 64); err == nil && e > now.Unix() {
					a.Sessions++
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// An Op is one administrative change of an account (Users.Update).
type Op string

// The changes Update makes. Each gives the account a new version.
const (
	// OpRoles replaces the roles and cuts every session's access token (its
	// refresh token keeps working, and the next refresh carries the roles).
	OpRoles Op = "roles"
	// OpLock locks the account and revokes every session.
	OpLock Op = "lock"
	// OpUnlock unlocks the account.
	OpUnlock Op = "unlock"
	// OpPassword sets a new password hash and revokes every session.
	OpPassword Op = "password"
	// OpDelete revokes every session and deletes the account.
	OpDelete Op = "delete"
)

// AnyVersion, as Update's expected version, applies the change whatever the
// account's version is.
const AnyVersion = "*"

// updateScript makes one change of Op to the user at KEYS[1], if the
// account exists (else -1) and is still at version ARGV[1] (else -2). It
// returns the number of sessions whose access token it cut (OpRoles: the
// first 16 bytes, the access jti, become zeros, which no token carries) or
// that it revoked. Every key it touches carries the user's hash tag.
var updateScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'h', 'v')
if not cur[1] then return -1 end
if ARGV[1] ~= '*' and (cur[2] or '') ~= ARGV[1] then return -2 end
local op, n = ARGV[4], 0
if op ~= 'unlock' then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 's:' then
      local k = ARGV[3] .. string.sub(f, 3)
      if op == 'roles' then
        if redis.call('EXISTS', k) == 1 then
          redis.call('SETRANGE', k, 0, ARGV[7])
          n = n + 1
        end
      else
        n = n + redis.call('DEL', k)
        redis.call('HDEL', KEYS[1], f)
      end
    end
  end
end
if op == 'delete' then
  redis.call('DEL', KEYS[1])
  return n
end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
if op == 'roles' then
  redis.call('HSET', KEYS[1], 'r', ARGV[5])
elseif op == 'lock' then
  redis.call('HSET', KEYS[1], 'l', '1')
elseif op == 'unlock' then
  redis.call('HDEL', KEYS[1], 'l')
elseif op == 'password' then
  redis.call('HSET', KEYS[1], 'h', ARGV[5], 'k', ARGV[6])
end
return n
`)

// Change is one Update: the Op and what it needs (Roles for OpRoles, sorted
// and valid; Hash for OpPassword).
type Change struct {
	Op    Op
	Roles []string
	Hash  string
}

// Update applies ch to the account of name in one script, if the account is
// still at version expect (AnyVersion: whatever it is); else
// global.ErrAccountChanged. It returns how many sessions it cut or revoked;
// global.ErrUserNotFound if there is no such user. accounts.Store calls it
// after its last-admin check.
func (u *Users) Update(ctx context.Context, name, expect string, ch Change) (int, error) {
	var arg5, arg6 string
	switch ch.Op {
	case OpRoles:
		arg5 = joinRoles(ch.Roles)
	case OpPassword:
		arg5, arg6 = splitHash(ch.Hash)
	}
	n, err := updateScript.Run(ctx, u.rdb, []string{userKey(name)},
		expect, newVersion(), sessionPrefix(name), string(ch.Op), arg5, arg6, noAccessJTI).Int()
	switch {
	case err != nil:
		return 0, storeErr(err)
	case n == -1:
		return 0, global.ErrUserNotFound
	case n == -2:
		return 0, global.ErrAccountChanged
	}
	return n, nil
}

// noAccessJTI is what a role change writes over a session's access jti: the
// nil UUID, which no token carries (rawID refuses it).
var noAccessJTI = strings.Repeat("\x00", jtiLen)
