// Package mfa is the second factor (SPEC §11): TOTP (RFC 6238, with
// github.com/pquerna/otp; totp.go) with its secrets encrypted at rest
// (seal.go), recovery codes (recovery.go), the one script that accepts a
// code (spend.go), and the login challenge that carries a password login
// over to its second step (challenge.go).
//
// Redis layout (every key of one user under the hash tag {name}, so each
// script touches one Cluster slot):
//
//	m:{name}          hash: s the active secret (sealed), e when it was
//	                  turned on (unix s), p a pending secret (sealed) and pe
//	                  its deadline (unix s), t the last accepted time step.
//	                  Expires with the pending enrollment while TOTP is off.
//	m:{name}:rc       set: SHA-256 of each unused recovery code.
//	m:{name}:c:<id>   hash: a login challenge, d its deadline (unix ms), n
//	                  wrong codes so far; <id> is the SHA-256 of the token's
//	                  random part, so Redis never holds a usable token.
//
// Deadlines are compared with the injected clock (and the keys also expire
// by Redis TTL, so nothing is left behind): tests move the clock.
package mfa

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// PendingTTL is how long an enrollment waits for its confirming code.
const PendingTTL = 10 * time.Minute

// Enrollment is a new, pending TOTP secret as the user's app takes it.
type Enrollment struct {
	// Secret is the base32 secret, for typing in by hand.
	Secret string `json:"secret"`
	// URI is the otpauth://totp/ URI (issuer JWT_ISSUER).
	URI string `json:"uri"`
	// QRPNG is URI as a QR code, a data:image/png;base64, URL.
	QRPNG string `json:"qrPng"`
}

// Status is what GET /user/mfa tells of the user's second factor.
type Status struct {
	// TOTP is true once an enrollment was confirmed (false while pending).
	TOTP bool
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
}

// Store keeps each user's second factor in Redis (layout: package doc).
type Store struct {
	rdb    redis.UniversalClient
	sealer *Sealer
	issuer string
	now    func() time.Time
}

// NewStore returns a store on rdb sealing secrets with sealer; issuer names
// the service in authenticator apps; now is the clock.
func NewStore(rdb redis.UniversalClient, sealer *Sealer, issuer string, now func() time.Time) *Store {
	return &Store{rdb: rdb, sealer: sealer, issuer: issuer, now: now}
}

func stateKey(user string) string { return global.KeyMFA + "{" + user + "}" }
func codesKey(user string) string { return stateKey(user) + ":rc" }

// storeErr wraps any Redis failure as global.ErrStoreUnavailable (a 503).
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err)
}

var enrollScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 's') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'pe', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// Enroll makes a new secret for user, pending until Confirm (PendingTTL; a
// new enrollment replaces a pending one). global.ErrMFAActive if TOTP is on.
func (s *Store) Enroll(ctx context.Context, user string) (Enrollment, error) {
	key, err := newKey(s.issuer, user)
	if err != nil {
		return Enrollment{}, err
	}
	qr, err := qrDataURL(key.URL())
	if err != nil {
		return Enrollment{}, err
	}
	sealed, err := s.sealer.Seal(user, []byte(key.Secret()))
	if err != nil {
		return Enrollment{}, err
	}
	ok, err := enrollScript.Run(ctx, s.rdb, []string{stateKey(user)},
		sealed, s.now().Add(PendingTTL).Unix(), PendingTTL.Milliseconds()).Int()
	switch {
	case err != nil:
		return Enrollment{}, storeErr(err)
	case ok == 0:
		return Enrollment{}, global.ErrMFAActive
	}
	return Enrollment{Secret: key.Secret(), URI: key.URL(), QRPNG: qr}, nil
}

// activateScript turns the pending secret ARGV[1] on if it is still the
// pending one, within its deadline, and its confirming step ARGV[2] is new:
// 1; 0 nothing (or another) pending; 2 the step was used; 3 already on. The
// recovery set ARGV[4...] replaces any old one.
var activateScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 's') == 1 then return 3 end
if redis.call('HGET', KEYS[1], 'p') ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'pe') or '0') <= tonumber(ARGV[3]) then return 0 end
if tonumber(ARGV[2]) <= tonumber(redis.call('HGET', KEYS[1], 't') or '-1') then return 2 end
redis.call('HSET', KEYS[1], 's', ARGV[1], 't', ARGV[2], 'e', ARGV[3])
redis.call('HDEL', KEYS[1], 'p', 'pe')
redis.call('PERSIST', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('SADD', KEYS[2], unpack(ARGV, 4))
return 1
`)

// Confirm turns TOTP on for user if code is right for the pending secret,
// and returns a fresh set of recovery codes (shown once: only their hashes
// are kept). The confirming code's step counts as used.
// global.ErrNoEnrollment, global.ErrMFAActive, global.ErrWrongCode.
func (s *Store) Confirm(ctx context.Context, user, code string) ([]string, error) {
	v, err := s.rdb.HMGet(ctx, stateKey(user), "s", "p", "pe").Result()
	if err != nil {
		return nil, storeErr(err)
	}
	active, _ := v[0].(string)
	pending, _ := v[1].(string)
	pe, _ := v[2].(string)
	deadline, _ := strconv.ParseInt(pe, 10, 64)
	now := s.now()
	switch {
	case active != "":
		return nil, global.ErrMFAActive
	case pending == "" || deadline <= now.Unix():
		return nil, global.ErrNoEnrollment
	}
	secret, err := s.sealer.Open(user, []byte(pending))
	if err != nil {
		return nil, err
	}
	c, ok := totpCode(code)
	var step int64
	if ok {
		step, ok = matchStep(string(secret), c, now)
	}
	if !ok {
		return nil, global.ErrWrongCode
	}
	codes, err := newRecoveryCodes(RecoveryCodes)
	if err != nil {
		return nil, err
	}
	args := append([]any{pending, step, now.Unix()}, recoveryHashes(user, codes)...)
	res, err := activateScript.Run(ctx, s.rdb, []string{stateKey(user), codesKey(user)}, args...).Int()
	if err != nil {
		return nil, storeErr(err)
	}
	switch res {
	case 1:
		return codes, nil
	case 2:
		return nil, global.ErrWrongCode
	case 3:
		return nil, global.ErrMFAActive
	}
	return nil, global.ErrNoEnrollment
}

// Enabled reports whether user has TOTP on.
func (s *Store) Enabled(ctx context.Context, user string) (bool, error) {
	on, err := s.rdb.HExists(ctx, stateKey(user), "s").Result()
	return on, storeErr(err)
}

// Status reports user's second factor.
func (s *Store) Status(ctx context.Context, user string) (Status, error) {
	var on *redis.BoolCmd
	var left *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		on = p.HExists(ctx, stateKey(user), "s")
		left = p.SCard(ctx, codesKey(user))
		return nil
	})
	if err != nil {
		return Status{}, storeErr(err)
	}
	return Status{TOTP: on.Val(), RecoveryCodesLeft: int(left.Val())}, nil
}

var disableScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 's') == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)

// Disable turns TOTP off for user, recovery codes included, if code (a TOTP
// code or a recovery code) is right: global.ErrMFAInactive,
// global.ErrWrongCode.
func (s *Store) Disable(ctx context.Context, user, code string) error {
	if err := s.spendActive(ctx, user, code); err != nil {
		return err
	}
	ok, err := disableScript.Run(ctx, s.rdb, []string{stateKey(user), codesKey(user)}).Int()
	switch {
	case err != nil:
		return storeErr(err)
	case ok == 0:
		return global.ErrMFAInactive
	}
	return nil
}

var replaceCodesScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 's') == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SADD', KEYS[2], unpack(ARGV))
return 1
`)

// RegenerateRecoveryCodes replaces user's recovery codes by a new set if
// code (a TOTP code or a recovery code) is right: the old set stops
// working. global.ErrMFAInactive, global.ErrWrongCode.
func (s *Store) RegenerateRecoveryCodes(ctx context.Context, user, code string) ([]string, error) {
	if err := s.spendActive(ctx, user, code); err != nil {
		return nil, err
	}
	codes, err := newRecoveryCodes(RecoveryCodes)
	if err != nil {
		return nil, err
	}
	ok, err := replaceCodesScript.Run(ctx, s.rdb, []string{stateKey(user), codesKey(user)}, recoveryHashes(user, codes)...).Int()
	switch {
	case err != nil:
		return nil, storeErr(err)
	case ok == 0:
		return nil, global.ErrMFAInactive
	}
	return codes, nil
}
