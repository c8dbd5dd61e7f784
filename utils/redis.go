package utils

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Session is what a user sees of one of their sessions.
type Session struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"createdAt"`
	RefreshedAt time.Time `json:"refreshedAt"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"userAgent"`
	Current     bool      `json:"current"`
	// AMR is how the session's user authenticated (RFC 8176), as its
	// tokens say; empty for a session opened before amr existed.
	AMR []string `json:"amr"`
}

// Client is what a session records of the client that made or refreshed it.
type Client struct {
	IP, UserAgent string
}

// maxUserAgent bounds what one session stores of a User-Agent header.
const maxUserAgent = 256

// Sessions keeps every live session in Redis (README, "Redis data").
//
// A session is one string key expiring with its refresh token, its value
// packed (session_layout.go: a hash would cost an object and a field header
// per value). The user's sessions are indexed as fields of the user's hash
// (see Users), valued with the session's expiry in unix seconds, so listing
// and logout-all cost O(sessions of the user) and expired entries are shed
// on the next login. Every key of one user carries the hash tag {user}; the
// User-Agent texts are shared by all sessions (useragent.go). The value ends
// with the session's amr (session_layout.go), so refresh re-issues how the
// user authenticated, and a bound session's DPoP key thumbprint (bound.go).
type Sessions struct {
	rdb   redis.UniversalClient
	batch *batcher
	max   int
	grace time.Duration
	// maxAge is SESSION_MAX_AGE: no session lives longer, so a
	// User-Agent's text stored at a rotation for that long outlives it.
	maxAge time.Duration
	now    func() time.Time
}

// NewSessions returns a session store on rdb that keeps at most maxPerUser
// live sessions per user and forgives a rotated-away refresh token for grace;
// maxAge is SESSION_MAX_AGE. The context is unused (its batching needs no
// goroutine of its own any more).
func NewSessions(_ context.Context, rdb redis.UniversalClient, maxPerUser int, grace, maxAge time.Duration, now func() time.Time) *Sessions {
	return &Sessions{rdb: rdb, batch: newBatcher(rdb), max: maxPerUser, grace: grace, maxAge: maxAge, now: now}
}

// ttlMillis is how long Redis keeps a session issued now with refresh claims
// c: exactly until the refresh token expires.
func ttlMillis(c *Claims, now time.Time) int64 {
	return max(c.ExpiresAt.UnixMilli()-now.UnixMilli(), 1)
}

// createScript stores a new session and indexes it, if the account is still
// at the version ARGV[8] the pair was signed for (else -1) and not locked
// (else -2); it sheds expired entries from the index and, past the per-user
// cap, ends the sessions closest to expiry (the least recently used).
var createScript = redis.NewScript(`
local acct = redis.call('HMGET', KEYS[2], 'h', 'v', 'l')
if not acct[1] or (acct[2] or '') ~= ARGV[8] then return -1 end
if acct[3] then return -2 end
local now = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 's:' .. ARGV[5], ARGV[4])
local all, live = redis.call('HGETALL', KEYS[2]), {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 's:' then
    local exp = tonumber(all[i + 1])
    if exp <= now then redis.call('HDEL', KEYS[2], all[i]) else live[#live + 1] = {all[i], exp} end
  end
end
local over = #live - tonumber(ARGV[6])
if over > 0 then
  table.sort(live, function(x, y) return x[2] < y[2] end)
  for i = 1, over do
    redis.call('HDEL', KEYS[2], live[i][1])
    redis.call('DEL', ARGV[7] .. string.sub(live[i][1], 3))
  end
end
return 1
`)

// Create records the new session of pair p, with its amr, signed for the
// account at version (Account.Version). An account changed since it was read
// is global.ErrAccountChanged (read it again and sign anew), a locked one
// global.ErrAccountLocked.
func (s *Sessions) Create(ctx context.Context, p *Pair, cl Client, version string) error {
	a, r := &p.AccessClaims, &p.RefreshClaims
	aid, err := rawID(a.ID)
	if err != nil {
		return err
	}
	rid, err := rawID(r.ID)
	if err != nil {
		return err
	}
	sid, err := rawID(a.SessionID)
	if err != nil {
		return err
	}
	bound, err := binding(a)
	if err != nil {
		return err
	}
	now := s.now()
	ttl := ttlMillis(r, now)
	hash, ua := userAgentHash(cl.UserAgent)
	cmds, err := s.batch.scripts(ctx, append(userAgentCall(hash, ua, ttl), script{createScript,
		[]string{sessionKey(a.Username, sid), userKey(a.Username)},
		[]any{pack(aid, rid, now, hash, cl.IP, a.AMR) + bound, ttl, now.Unix(), r.ExpiresAt.Unix(), sid, s.max, sessionPrefix(a.Username), version},
	})...)
	if err != nil {
		return storeErr(err)
	}
	n, err := cmds[len(cmds)-1].Int()
	switch {
	case err != nil:
		return storeErr(err)
	case n == -1:
		return global.ErrAccountChanged
	case n == -2:
		return global.ErrAccountLocked
	}
	return nil
}

// CheckAccess reports whether the access token c is still the live one of
// its session: one Redis read of the value's first 16 bytes, sent in a
// pipeline together with the checks of concurrent requests. A revoked
// session, or an access token replaced by a rotation, is
// global.ErrTokenRevoked.
func (s *Sessions) CheckAccess(ctx context.Context, c *Claims) error {
	live := c.live
	if live.key == "" {
		var err error
		if live, err = liveCheckOf(c); err != nil {
			return err
		}
	}
	got, err := s.batch.getRange(ctx, live.key, jtiLen)
	return stillLive(live.jti, got, err)
}

// liveCheckOf is what CheckAccess reads and compares for the access token c.
func liveCheckOf(c *Claims) (liveCheck, error) {
	jti, err := rawID(c.ID)
	if err != nil {
		return liveCheck{}, err
	}
	sid, err := rawID(c.SessionID)
	if err != nil {
		return liveCheck{}, err
	}
	return liveCheck{jti: jti, key: sessionKey(c.Username, sid)}, nil
}

// stillLive compares a token's raw id with the one Redis holds for its
// session ("" when the session is gone).
func stillLive(want, got string, err error) error {
	switch {
	case err != nil:
		return storeErr(err)
	case got != want:
		return global.ErrTokenRevoked
	}
	return nil
}

// CheckRefresh reports whether the refresh token c is still the live one of
// its session, without rotating it (introspection asks, it does not use):
// one Redis read of the value's bytes 17-32. A revoked session, or a
// refresh token rotated away, is global.ErrTokenRevoked.
func (s *Sessions) CheckRefresh(ctx context.Context, c *Claims) error {
	want, err := rawID(c.ID)
	if err != nil {
		return err
	}
	sid, err := rawID(c.SessionID)
	if err != nil {
		return err
	}
	got, err := s.rdb.GetRange(ctx, sessionKey(c.Username, sid), jtiLen, 2*jtiLen-1).Result()
	return stillLive(want, got, err)
}

// rotateScript swaps in a new pair if ARGV[1] is the session's current refresh
// jti, and returns {1, the account's roles field (absent: stored before
// roles existed)}: the roles are read in the same script as the rotation,
// so the pair, signed afterwards with them, carries the roles of the moment
// it became the session's; a role change after that cuts its access token
// (Users.Update), as it does every session's. An account gone or locked is
// 0, like a session gone, and nothing changes. Otherwise: the previous
// refresh token within the grace period (2, nothing changes); any other
// rotated-away refresh token means theft or replay, so the whole session is
// revoked (3). If the session already holds the new pair (ARGV[2] is a fresh
// jti), this very rotation ran before: the client re-sent it after a read
// timeout, and it succeeds again instead of counting as reuse. A pair bound
// to another DPoP key than the session's (ARGV[11], "" for none) changes
// nothing (5): a refresh without the session's key neither rotates nor
// revokes it.
var rotateScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local acct = redis.call('HMGET', KEYS[2], 'h', 'l', 'r')
if not acct[1] or acct[2] then return 0 end
if string.sub(cur, 1, 16) == ARGV[2] then return {1, acct[3]} end
local jkt = ''
if #cur >= 122 and string.byte(cur, -44) == 0 then jkt = string.sub(cur, -43) end
if jkt ~= ARGV[11] then return 5 end
if string.sub(cur, 17, 32) == ARGV[1] then
  local v = ARGV[2] .. ARGV[3] .. ARGV[1] .. ARGV[4] .. string.sub(cur, 62, 65) .. ARGV[5] .. ARGV[6]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[7])
  redis.call('HSET', KEYS[2], 's:' .. ARGV[9], ARGV[8])
  return {1, acct[3]}
end
if string.sub(cur, 33, 48) == ARGV[1] and tonumber(ARGV[4]) - tonumber(string.sub(cur, 49, 61)) < tonumber(ARGV[10]) then
  return 2
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 's:' .. ARGV[9])
return 3
`)

// Rotate makes the pair next (its claims made, not yet signed: JWT.NewPair)
// the session's, if old is its current refresh token: atomically, so of
// concurrent rotations with one token exactly one succeeds. It returns the
// account's roles as stored at that moment: sign next with them
// (Users.Roles, JWT.Sign). A reused refresh token revokes the session and
// returns global.ErrTokenReused; a gone or locked account is
// global.ErrTokenRevoked. The session records next's amr (the refresh
// handler re-issues the presented token's own). A pair bound to another
// DPoP key than the session (or bound where the session is not, or not
// where it is) is global.ErrDPoPKeyMismatch, and the session stays as it
// was. One script, batched with other requests' commands.
func (s *Sessions) Rotate(ctx context.Context, old *Claims, next *Pair, cl Client) (StoredRoles, error) {
	var roles StoredRoles
	presented, err := rawID(old.ID)
	if err != nil {
		return roles, err
	}
	aid, err := rawID(next.AccessClaims.ID)
	if err != nil {
		return roles, err
	}
	rid, err := rawID(next.RefreshClaims.ID)
	if err != nil {
		return roles, err
	}
	sid, err := rawID(old.SessionID)
	if err != nil {
		return roles, err
	}
	bound, err := binding(&next.AccessClaims)
	if err != nil {
		return roles, err
	}
	now := s.now()
	ttl := ttlMillis(&next.RefreshClaims, now)
	hash, ua := userAgentHash(cl.UserAgent)
	var calls []script
	if ua != "" {
		// The text is stored for the session's whole life, and the new
		// refresh token says so (uah): its rotation, from the same
		// User-Agent, need not store it again.
		uah := hex.EncodeToString([]byte(hash))
		if old.UAHash != uah {
			calls = userAgentCall(hash, ua, s.maxAge.Milliseconds())
		}
		next.RefreshClaims.UAHash = uah
	}
	calls = append(calls, script{rotateScript,
		[]string{sessionKey(old.Username, sid), userKey(old.Username)},
		[]any{presented, aid, rid, millis13(now), unixBytes(now), hash + tail(cl.IP, next.AccessClaims.AMR) + bound,
			ttl, next.RefreshClaims.ExpiresAt.Unix(), sid, s.grace.Milliseconds(), jkt(&next.AccessClaims)},
	})
	cmds, err := s.batch.scripts(ctx, calls...)
	if err != nil {
		return roles, storeErr(err)
	}
	code, roles, err := rotateReply(cmds[len(cmds)-1].Val())
	if err != nil {
		return roles, storeErr(err)
	}
	switch code {
	case 1:
		return roles, nil
	case 2:
		return roles, global.ErrTokenRaced
	case 3:
		return roles, global.ErrTokenReused
	case 5:
		return roles, global.ErrDPoPKeyMismatch
	default:
		return roles, global.ErrTokenRevoked
	}
}

// rotateReply reads rotateScript's answer: a code, or {1, roles}.
func rotateReply(v any) (int64, StoredRoles, error) {
	switch v := v.(type) {
	case int64:
		return v, StoredRoles{}, nil
	case []any:
		if len(v) >= 1 {
			if code, ok := v[0].(int64); ok {
				if len(v) == 1 || v[1] == nil { // no roles field (Lua's false is nil)
					return code, StoredRoles{}, nil
				}
				if text, ok := v[1].(string); ok {
					return code, StoredRoles{Text: text, Set: true}, nil
				}
			}
		}
	}
	return 0, StoredRoles{}, fmt.Errorf("rotate: unexpected reply %T", v)
}

// Revoke ends one session of user: its access and refresh token stop working
// together. It reports whether the session was live.
func (s *Sessions) Revoke(ctx context.Context, user, id string) (bool, error) {
	sid, err := rawID(id)
	if err != nil {
		return false, nil // no such session
	}
	var del *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, sessionKey(user, sid))
		p.HDel(ctx, userKey(user), indexPrefix+sid)
		return nil
	})
	if err != nil {
		return false, storeErr(err)
	}
	return del.Val() == 1, nil
}

var revokeAllScript = redis.NewScript(`
local all, n = redis.call('HKEYS', KEYS[1]), 0
for _, f in ipairs(all) do
  if string.sub(f, 1, 2) == 's:' and f ~= 's:' .. ARGV[2] then
    n = n + redis.call('DEL', ARGV[1] .. string.sub(f, 3))
    redis.call('HDEL', KEYS[1], f)
  end
end
return n
`)

// RevokeAll ends every live session of user except the one named except
// (empty: all of them) and returns how many it ended.
func (s *Sessions) RevokeAll(ctx context.Context, user, except string) (int, error) {
	if except != "" {
		var err error
		if except, err = rawID(except); err != nil {
			return 0, err
		}
	}
	n, err := revokeAllScript.Run(ctx, s.rdb, []string{userKey(user)}, sessionPrefix(user), except).Int()
	return n, storeErr(err)
}

// List returns the live sessions of user, newest first, marking current.
func (s *Sessions) List(ctx context.Context, user, current string) ([]Session, error) {
	fields, err := s.rdb.HGetAll(ctx, userKey(user)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	var ids, keys []string
	for f := range fields {
		if raw, ok := strings.CutPrefix(f, indexPrefix); ok {
			ids = append(ids, raw)
			keys = append(keys, sessionKey(user, raw))
		}
	}
	out := make([]Session, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result() // one slot: the keys share {user}
	if err != nil {
		return nil, storeErr(err)
	}
	var gone, hashes []string
	for i, v := range vals {
		str, _ := v.(string)
		if sess, hash, ok := unpack(sessionID(ids[i]), str); ok {
			sess.Current = sess.ID == current
			out = append(out, sess)
			hashes = append(hashes, hash)
		} else {
			gone = append(gone, indexPrefix+ids[i])
		}
	}
	agents, err := s.userAgents(ctx, hashes)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].UserAgent = agents[hashes[i]]
	}
	if len(gone) > 0 { // expired by TTL: shed from the index
		if err := s.rdb.HDel(ctx, userKey(user), gone...).Err(); err != nil {
			return nil, storeErr(err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Get returns one live session of user; global.ErrNotFound if there is none.
func (s *Sessions) Get(ctx context.Context, user, id string) (Session, error) {
	sid, err := rawID(id)
	if err != nil {
		return Session{}, global.ErrNotFound
	}
	v, err := s.rdb.Get(ctx, sessionKey(user, sid)).Result()
	if errors.Is(err, redis.Nil) {
		return Session{}, global.ErrNotFound
	}
	if err != nil {
		return Session{}, storeErr(err)
	}
	sess, hash, ok := unpack(id, v)
	if !ok {
		return Session{}, global.ErrNotFound
	}
	agents, err := s.userAgents(ctx, []string{hash})
	if err != nil {
		return Session{}, err
	}
	sess.UserAgent = agents[hash]
	return sess, nil
}
