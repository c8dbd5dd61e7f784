package utils

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/google/uuid"

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
}

// Client is what a session records of the client that made or refreshed it.
type Client struct {
	IP, UserAgent string
}

// maxUserAgent bounds what one session stores of a User-Agent header.
const maxUserAgent = 256

// Sessions keeps every live session in Redis (README, "Redis data").
//
// A session is one string key, global.KeySession+"{user}:"+sid, expiring
// with its refresh token. Its value is packed (a hash would cost an object
// and a field header per value, and turns into a hash table past 64-byte
// values, which a browser's User-Agent is):
//
//	bytes  1-16  access token jti (raw UUID)
//	      17-32  refresh token jti
//	      33-48  previous refresh jti (zeros until the first rotation)
//	      49-61  when that one was rotated away, unix ms, 13 digits
//	      62-71  created, unix s, 10 digits
//	      72-81  last refreshed, unix s, 10 digits
//	      82-    client IP, "\n", User-Agent
//	  last 44    bound sessions only: "\x00" and the DPoP key's thumbprint
//	             (43 characters; bound.go). IP and User-Agent hold no NUL,
//	             so the suffix is known by its first byte.
//
// The user's sessions are indexed as fields "s:"+sid of the user's hash (see
// Users), valued with the session's expiry in unix seconds, so listing and
// logout-all cost O(sessions of the user) and expired entries are shed on the
// next login. Every key of one user carries the hash tag {user}.
type Sessions struct {
	rdb    redis.UniversalClient
	access *prefixBatcher
	max    int
	grace  time.Duration
	now    func() time.Time
}

// NewSessions returns a session store on rdb that keeps at most maxPerUser
// live sessions per user and forgives a rotated-away refresh token for grace.
// Its access-check workers run until ctx is done.
func NewSessions(ctx context.Context, rdb redis.UniversalClient, maxPerUser int, grace time.Duration, now func() time.Time) *Sessions {
	return &Sessions{rdb: rdb, access: newPrefixBatcher(ctx, rdb, jtiLen), max: maxPerUser, grace: grace, now: now}
}

const (
	jtiLen      = 16
	headerLen   = 81 // up to the client IP
	indexPrefix = "s:"
)

func sessionPrefix(user string) string   { return global.KeySession + "{" + user + "}:" }
func sessionKey(user, sid string) string { return sessionPrefix(user) + sid }

// rawID is the 16 bytes of a UUID-shaped token id.
func rawID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", global.ErrTokenClaims
	}
	return string(u[:]), nil
}

// pack builds a new session's value.
func pack(access, refresh string, now time.Time, cl Client) string {
	var b strings.Builder
	b.Grow(headerLen + len(cl.IP) + 1 + len(cl.UserAgent))
	b.WriteString(access)
	b.WriteString(refresh)
	b.WriteString(strings.Repeat("\x00", jtiLen))
	b.WriteString("0000000000000")
	fmt.Fprintf(&b, "%010d%010d", now.Unix(), now.Unix())
	b.WriteString(tail(cl))
	return b.String()
}

// tail is the variable part of the value: IP and User-Agent, which holds no
// newline (HTTP forbids it in a header value).
func tail(cl Client) string {
	ua := cl.UserAgent
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return cl.IP + "\n" + strings.ReplaceAll(strings.ReplaceAll(ua, "\n", " "), "\x00", "")
}

func unpack(id, v string) (Session, bool) {
	v, _ = unbind(v)
	if len(v) < headerLen+1 {
		return Session{}, false
	}
	c, _ := strconv.ParseInt(v[61:71], 10, 64)
	u, _ := strconv.ParseInt(v[71:81], 10, 64)
	ip, ua, _ := strings.Cut(v[headerLen:], "\n")
	return Session{ID: id, CreatedAt: time.Unix(c, 0).UTC(), RefreshedAt: time.Unix(u, 0).UTC(), IP: ip, UserAgent: ua}, true
}

// ttlMillis is how long Redis keeps a session issued now with refresh claims
// c: exactly until the refresh token expires.
func ttlMillis(c *Claims, now time.Time) int64 {
	return max(c.ExpiresAt.UnixMilli()-now.UnixMilli(), 1)
}

// createScript stores a new session and indexes it; it sheds expired entries
// from the index and, past the per-user cap, ends the sessions closest to
// expiry (the least recently used).
var createScript = redis.NewScript(`
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
return over
`)

// Create records the new session of pair p.
func (s *Sessions) Create(ctx context.Context, p *Pair, cl Client) error {
	a, r := &p.AccessClaims, &p.RefreshClaims
	aid, err := rawID(a.ID)
	if err != nil {
		return err
	}
	rid, err := rawID(r.ID)
	if err != nil {
		return err
	}
	bound, err := binding(a)
	if err != nil {
		return err
	}
	now := s.now()
	return storeErr(createScript.Run(ctx, s.rdb, []string{sessionKey(a.Username, a.SessionID), userKey(a.Username)},
		pack(aid, rid, now, cl)+bound, ttlMillis(r, now), now.Unix(), r.ExpiresAt.Unix(), a.SessionID, s.max, sessionPrefix(a.Username),
	).Err())
}

// CheckAccess reports whether the access token c is still the live one of
// its session: one Redis read of the value's first 16 bytes, sent in a
// pipeline together with the checks of concurrent requests. A revoked
// session, or an access token replaced by a rotation, is
// global.ErrTokenRevoked.
func (s *Sessions) CheckAccess(ctx context.Context, c *Claims) error {
	want, err := rawID(c.ID)
	if err != nil {
		return err
	}
	got, err := s.access.get(ctx, sessionKey(c.Username, c.SessionID))
	return stillLive(want, got, err)
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
	got, err := s.rdb.GetRange(ctx, sessionKey(c.Username, c.SessionID), jtiLen, 2*jtiLen-1).Result()
	return stillLive(want, got, err)
}

// rotateScript swaps in a new pair if ARGV[1] is the session's current refresh
// jti. Otherwise: session gone (0); the previous refresh token within the
// grace period (2, nothing changes); any other rotated-away refresh token
// means theft or replay, so the whole session is revoked (3). If the session
// already holds the new pair (ARGV[2] is a fresh jti), this very rotation
// ran before: the client re-sent it after a read timeout, and it succeeds
// again instead of counting as reuse. A pair bound to another DPoP key
// than the session's (ARGV[11], "" for none) changes nothing (4): a refresh
// without the session's key neither rotates nor revokes it.
var rotateScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if string.sub(cur, 1, 16) == ARGV[2] then return 1 end
local jkt = ''
if #cur >= 126 and string.byte(cur, -44) == 0 then jkt = string.sub(cur, -43) end
if jkt ~= ARGV[11] then return 4 end
if string.sub(cur, 17, 32) == ARGV[1] then
  local v = ARGV[2] .. ARGV[3] .. ARGV[1] .. ARGV[4] .. string.sub(cur, 62, 71) .. ARGV[5] .. ARGV[6]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[7])
  redis.call('HSET', KEYS[2], 's:' .. ARGV[9], ARGV[8])
  return 1
end
if string.sub(cur, 33, 48) == ARGV[1] and tonumber(ARGV[4]) - tonumber(string.sub(cur, 49, 61)) < tonumber(ARGV[10]) then
  return 2
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 's:' .. ARGV[9])
return 3
`)

// Rotate replaces the session's tokens by the pair next if old is its
// current refresh token: atomically, so of concurrent rotations with one token
// exactly one succeeds. A reused refresh token revokes the session and returns
// global.ErrTokenReused. A pair bound to another DPoP key than the session
// (or bound where the session is not, or not where it is) is
// global.ErrDPoPKeyMismatch, and the session stays as it was.
func (s *Sessions) Rotate(ctx context.Context, old *Claims, next *Pair, cl Client) error {
	presented, err := rawID(old.ID)
	if err != nil {
		return err
	}
	aid, err := rawID(next.AccessClaims.ID)
	if err != nil {
		return err
	}
	rid, err := rawID(next.RefreshClaims.ID)
	if err != nil {
		return err
	}
	bound, err := binding(&next.AccessClaims)
	if err != nil {
		return err
	}
	now := s.now()
	code, err := rotateScript.Run(ctx, s.rdb, []string{sessionKey(old.Username, old.SessionID), userKey(old.Username)},
		presented, aid, rid, fmt.Sprintf("%013d", now.UnixMilli()), fmt.Sprintf("%010d", now.Unix()), tail(cl)+bound,
		ttlMillis(&next.RefreshClaims, now), next.RefreshClaims.ExpiresAt.Unix(), old.SessionID, s.grace.Milliseconds(),
		jkt(&next.AccessClaims),
	).Int()
	if err != nil {
		return storeErr(err)
	}
	switch code {
	case 1:
		return nil
	case 2:
		return global.ErrTokenRaced
	case 3:
		return global.ErrTokenReused
	case 4:
		return global.ErrDPoPKeyMismatch
	default:
		return global.ErrTokenRevoked
	}
}

// Revoke ends one session of user: its access and refresh token stop working
// together. It reports whether the session was live.
func (s *Sessions) Revoke(ctx context.Context, user, sid string) (bool, error) {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
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
		if id, ok := strings.CutPrefix(f, indexPrefix); ok {
			ids = append(ids, id)
			keys = append(keys, sessionKey(user, id))
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
	var gone []string
	for i, v := range vals {
		str, _ := v.(string)
		if sess, ok := unpack(ids[i], str); ok {
			sess.Current = ids[i] == current
			out = append(out, sess)
		} else {
			gone = append(gone, indexPrefix+ids[i])
		}
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
func (s *Sessions) Get(ctx context.Context, user, sid string) (Session, error) {
	v, err := s.rdb.Get(ctx, sessionKey(user, sid)).Result()
	if errors.Is(err, redis.Nil) {
		return Session{}, global.ErrNotFound
	}
	if err != nil {
		return Session{}, storeErr(err)
	}
	sess, ok := unpack(sid, v)
	if !ok {
		return Session{}, global.ErrNotFound
	}
	return sess, nil
}
