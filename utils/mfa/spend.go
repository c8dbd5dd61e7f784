package mfa

import (
	"context"
	"errors"
	"strconv"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Spending a code: the one place a TOTP code or a recovery code is
// accepted, on the signed-in routes and on the second login step alike.

// spendActive checks that TOTP is on and spends code.
func (s *Store) spendActive(ctx context.Context, user, code string) error {
	on, err := s.Enabled(ctx, user)
	switch {
	case err != nil:
		return err
	case !on:
		return global.ErrMFAInactive
	}
	return s.spend(ctx, user, code, false, "")
}

// spendScript spends a code, atomically, so of concurrent uses of one code
// exactly one wins. KEYS: the state hash, the recovery set and, on the
// second login step, the challenge. ARGV: mode (t: the TOTP step ARGV[2],
// verified with the sealed secret ARGV[5], must be later than the last one
// accepted; r: the recovery code hash ARGV[2] must still be in the set; x:
// no code matched), now (unix ms), attempts allowed. 1: spent (and the
// challenge with it); 2: wrong or used before (counted against the
// challenge, which dies at the limit); 0: no live challenge.
var spendScript = redis.NewScript(`
local ch = KEYS[3]
if ch then
  local d = redis.call('HGET', ch, 'd')
  if not d or tonumber(d) <= tonumber(ARGV[3]) or tonumber(redis.call('HGET', ch, 'n') or '0') >= tonumber(ARGV[4]) then
    redis.call('DEL', ch)
    return 0
  end
end
local ok = false
if ARGV[1] == 't' then
  if redis.call('HGET', KEYS[1], 's') == ARGV[5] and tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], 't') or '-1') then
    redis.call('HSET', KEYS[1], 't', ARGV[2])
    ok = true
  end
elseif ARGV[1] == 'r' then
  ok = redis.call('SREM', KEYS[2], ARGV[2]) == 1
end
if ok then
  if ch then redis.call('DEL', ch) end
  return 1
end
if ch and redis.call('HINCRBY', ch, 'n', 1) >= tonumber(ARGV[4]) then redis.call('DEL', ch) end
return 2
`)

// spend verifies code for user and spends it: a TOTP code (unless
// recoveryOnly) by remembering its time step, a recovery code by removing
// it. With challenge set, the same script spends the challenge too (right
// code) or counts a wrong one against it. global.ErrWrongCode,
// global.ErrTokenMFA, global.ErrDataKey.
func (s *Store) spend(ctx context.Context, user, code string, recoveryOnly bool, challenge string) error {
	now := s.now()
	mode, arg, sealed := "x", "", ""
	if c, ok := totpCode(code); ok && !recoveryOnly {
		v, err := s.rdb.HGet(ctx, stateKey(user), "s").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return storeErr(err)
		}
		if v != "" {
			secret, err := s.sealer.Open(user, []byte(v))
			if err != nil {
				return err // fail closed: a wrong DATA_KEY passes nothing
			}
			if step, ok := matchStep(string(secret), c, now); ok {
				mode, arg, sealed = "t", strconv.FormatInt(step, 10), v
			}
		}
	} else if c, ok := recoveryCode(code); ok {
		mode, arg = "r", recoveryHash(user, c)
	}
	keys := []string{stateKey(user), codesKey(user)}
	if challenge != "" {
		keys = append(keys, challenge)
	}
	res, err := spendScript.Run(ctx, s.rdb, keys, mode, arg, now.UnixMilli(), MaxAttempts, sealed).Int()
	switch {
	case err != nil:
		return storeErr(err)
	case res == 1:
		return nil
	case res == 0:
		return global.ErrTokenMFA
	}
	return global.ErrWrongCode
}
