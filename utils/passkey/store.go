package passkey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/go-webauthn/webauthn/webauthn"

	"go-jwt/global"
)

// MaxPerUser bounds the passkeys of one user: the list stays short and the
// user's hash small.
const MaxPerUser = 20

// handleLen is the length of a user handle: random, so it says nothing about
// the user (WebAuthn §14.6.1), and at most the 64 bytes WebAuthn allows.
const handleLen = 32

// Fields of the user's passkey hash.
const (
	fieldHandle = "h"
	prefixCred  = "c:" // + id: the record (JSON)
	prefixCount = "n:" // + id: the signature counter last seen
	prefixUsed  = "l:" // + id: last use, unix s (0: never)
)

// Passkey is what a user sees of one of their passkeys. ID is the
// credential id, base64url.
type Passkey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// record is what the store keeps of a credential besides its counter and
// last use, which change on every sign-in and live in fields of their own.
type record struct {
	Name       string              `json:"name"`
	Created    int64               `json:"created"`
	Credential webauthn.Credential `json:"credential"`
}

// Store keeps passkeys in Redis. Everything of one user is one hash,
// global.KeyPasskeys+"{name}", so every multi-field change is one command
// on one slot (Redis Cluster safe). The only key outside it is the index
// from user handle to name, global.KeyPasskeyHandle+handle, which
// usernameless sign-in reads; it is written and read on its own, never in
// a script with the user's hash.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a passkey store on rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

func userKey(name string) string     { return global.KeyPasskeys + "{" + name + "}" }
func handleKey(handle []byte) string { return global.KeyPasskeyHandle + encode(handle) }

func encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err)
}

// Handle returns the user's WebAuthn user handle, making one the first time,
// and makes sure the index finds the user from it.
func (s *Store) Handle(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, handleLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	key := userKey(name)
	if err := s.rdb.HSetNX(ctx, key, fieldHandle, encode(fresh)).Err(); err != nil {
		return nil, storeErr(err)
	}
	v, err := s.rdb.HGet(ctx, key, fieldHandle).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	handle, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("passkey: stored user handle of %q: %w", name, err)
	}
	// Idempotent; written before any credential of the user can exist.
	if err := s.rdb.Set(ctx, handleKey(handle), name, 0).Err(); err != nil {
		return nil, storeErr(err)
	}
	return handle, nil
}

// UserByHandle returns the name of the user whose handle this is;
// global.ErrNotFound if none. The user's own hash must agree, so an index
// entry left behind by a deleted user never leads to a new user of the same
// name (whose handle is another).
func (s *Store) UserByHandle(ctx context.Context, handle []byte) (string, error) {
	name, err := s.rdb.Get(ctx, handleKey(handle)).Result()
	if errors.Is(err, redis.Nil) {
		return "", global.ErrNotFound
	}
	if err != nil {
		return "", storeErr(err)
	}
	own, err := s.rdb.HGet(ctx, userKey(name), fieldHandle).Result()
	if errors.Is(err, redis.Nil) || (err == nil && own != encode(handle)) {
		return "", global.ErrNotFound
	}
	return name, storeErr(err)
}

// entry is one stored credential as read back: its id (base64url), record
// and last use (unix s, 0: never). The record's credential carries the
// current sign count.
type entry struct {
	id   string
	rec  record
	used int64
}

// load reads every credential of the user: one HGETALL.
func (s *Store) load(ctx context.Context, name string) ([]entry, error) {
	all, err := s.rdb.HGetAll(ctx, userKey(name)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	var out []entry
	for f, v := range all {
		id, ok := strings.CutPrefix(f, prefixCred)
		if !ok {
			continue
		}
		e := entry{id: id}
		if err := json.Unmarshal([]byte(v), &e.rec); err != nil {
			return nil, fmt.Errorf("passkey: stored record %s of %q: %w", id, name, err)
		}
		n, _ := strconv.ParseUint(all[prefixCount+id], 10, 32)
		e.rec.Credential.Authenticator.SignCount = uint32(n)
		e.used, _ = strconv.ParseInt(all[prefixUsed+id], 10, 64)
		out = append(out, e)
	}
	return out, nil
}

// credentials returns the user's credentials, each with its current count.
func (s *Store) credentials(ctx context.Context, name string) ([]webauthn.Credential, error) {
	entries, err := s.load(ctx, name)
	if err != nil {
		return nil, err
	}
	creds := make([]webauthn.Credential, len(entries))
	for i := range entries {
		creds[i] = entries[i].rec.Credential
	}
	return creds, nil
}

// List returns the user's passkeys, newest first.
func (s *Store) List(ctx context.Context, name string) ([]Passkey, error) {
	entries, err := s.load(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]Passkey, 0, len(entries))
	for _, e := range entries {
		p := Passkey{ID: e.id, Name: e.rec.Name, CreatedAt: time.Unix(e.rec.Created, 0).UTC()}
		if e.used > 0 {
			t := time.Unix(e.used, 0).UTC()
			p.LastUsedAt = &t
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// addScript stores a new credential unless the user's hash does not hold
// the handle ARGV[5] the ceremony was checked against (-2: the user's
// passkeys were deleted meanwhile, maybe the user too; never create a hash
// without a handle, or add to another handle's), the user holds MaxPerUser
// already (0) or one with the same id (-1).
var addScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[5] then return -2 end
local n = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'c:' then n = n + 1 end
end
if n >= tonumber(ARGV[4]) then return 0 end
if redis.call('HEXISTS', KEYS[1], 'c:' .. ARGV[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], ARGV[2], 'n:' .. ARGV[1], ARGV[3], 'l:' .. ARGV[1], 0)
return 1
`)

// add stores the new credential c of name, whose registration was checked
// against the user handle handle; global.ErrTooManyPasskeys past
// MaxPerUser, global.ErrPasskeyInvalid for an id the user holds already or
// when the user's handle is no longer handle.
func (s *Store) add(ctx context.Context, name, label string, handle []byte, c *webauthn.Credential, now time.Time) (Passkey, error) {
	v, err := json.Marshal(record{Name: label, Created: now.Unix(), Credential: *c})
	if err != nil {
		return Passkey{}, err
	}
	id := encode(c.ID)
	res, err := addScript.Run(ctx, s.rdb, []string{userKey(name)}, id, v, c.Authenticator.SignCount, MaxPerUser, encode(handle)).Int()
	switch {
	case err != nil:
		return Passkey{}, storeErr(err)
	case res == 0:
		return Passkey{}, global.ErrTooManyPasskeys
	case res == -2:
		return Passkey{}, fmt.Errorf("%w: the user's passkeys were reset meanwhile", global.ErrPasskeyInvalid)
	case res < 0:
		return Passkey{}, fmt.Errorf("%w: this passkey is registered already", global.ErrPasskeyInvalid)
	}
	return Passkey{ID: id, Name: label, CreatedAt: time.Unix(now.Unix(), 0).UTC()}, nil
}

// usedScript records a sign-in with credential ARGV[1] whose authenticator
// counted ARGV[2], unless the credential is gone (0) or the counter did not
// go forward (2): a counter that stays or goes back means a cloned
// authenticator (WebAuthn §6.1.1), except for authenticators that always
// send 0. One script, so of two sign-ins racing with the same counter value
// exactly one passes.
var usedScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'c:' .. ARGV[1]) == 0 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'n:' .. ARGV[1]) or '0')
local new = tonumber(ARGV[2])
if new <= cur and (new ~= 0 or cur ~= 0) then return 2 end
redis.call('HSET', KEYS[1], 'n:' .. ARGV[1], ARGV[2], 'l:' .. ARGV[1], ARGV[3])
return 1
`)

// errCounter and errGone are why used refused a sign-in.
var (
	errCounter = errors.New("signature counter did not go forward: cloned authenticator?")
	errGone    = errors.New("credential deleted")
)

// used records a sign-in of name with credential id whose authenticator now
// counts count.
func (s *Store) used(ctx context.Context, name string, id []byte, count uint32, now time.Time) error {
	res, err := usedScript.Run(ctx, s.rdb, []string{userKey(name)}, encode(id), count, now.Unix()).Int()
	switch {
	case err != nil:
		return storeErr(err)
	case res == 0:
		return errGone
	case res == 2:
		return errCounter
	}
	return nil
}

// Delete removes one of the user's passkeys; it stops working at once.
// global.ErrNotFound if the user has no passkey with that id (another
// user's id is simply not found: lookups go by the caller's name only).
func (s *Store) Delete(ctx context.Context, name, id string) error {
	n, err := s.rdb.HDel(ctx, userKey(name), prefixCred+id, prefixCount+id, prefixUsed+id).Result()
	if err != nil {
		return storeErr(err)
	}
	if n == 0 {
		return global.ErrNotFound
	}
	return nil
}

// DeleteAll removes every passkey of the user and their user handle: for
// deleting the user, after which the name can be registered again without
// inheriting a passkey. The index entry goes first, so a failure halfway
// leaves passkeys that can no longer sign in, never the other way round.
// The user's hash is deleted even when it holds no handle (it should not
// exist then: delete whatever is there).
func (s *Store) DeleteAll(ctx context.Context, name string) error {
	key := userKey(name)
	v, err := s.rdb.HGet(ctx, key, fieldHandle).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return storeErr(err)
	default:
		if err := s.rdb.Del(ctx, global.KeyPasskeyHandle+v).Err(); err != nil {
			return storeErr(err)
		}
	}
	return storeErr(s.rdb.Del(ctx, key).Err())
}

// Count returns how many passkeys the user has (for GET /user/mfa).
func (s *Store) Count(ctx context.Context, name string) (int, error) {
	keys, err := s.rdb.HKeys(ctx, userKey(name)).Result()
	if err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, prefixCred) {
			n++
		}
	}
	return n, nil
}
