package utils

import (
	"context"
	"errors"
	"sort"
	"strconv"
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
}

// Client is what a session records of the client that made or refreshed it.
type Client struct {
	IP, UserAgent string
}

// maxUserAgent bounds what one session stores of a User-Agent header.
const maxUserAgent = 256

// Sessions keeps every live session in Redis (layout in README, "Redis
// data"): a hash per session with the current access jti (a), refresh jti (r),
// the previous refresh jti (p) and when it was rotated away (t), created (c)
// and refreshed (u) times in unix ms, ip and ua; it expires with its refresh
// token. A sorted set per user indexes the session ids by expiry, so listing
// and logout-all cost O(sessions of the user) and expired ids are shed.
type Sessions struct {
	rdb   redis.UniversalClient
	max   int
	grace time.Duration
	now   func() time.Time
}

// NewSessions returns a session store on rdb that keeps at most maxPerUser
// live sessions per user and forgives a rotated-away refresh token for grace.
func NewSessions(rdb redis.UniversalClient, maxPerUser int, grace time.Duration, now func() time.Time) *Sessions {
	return &Sessions{rdb: rdb, max: maxPerUser, grace: grace, now: now}
}

func sessionPrefix(user string) string   { return global.KeySession + "{" + user + "}:" }
func sessionKey(user, sid string) string { return sessionPrefix(user) + sid }
func indexKey(user string) string        { return global.KeySessionIndex + "{" + user + "}" }

// ttlMillis is how long Redis keeps a session issued now with refresh claims
// c: exactly until the refresh token expires.
func (s *Sessions) ttlMillis(c *Claims, now time.Time) int64 {
	return max(c.ExpiresAt.UnixMilli()-now.UnixMilli(), 1)
}

func clip(ua string) string {
	if len(ua) > maxUserAgent {
		return ua[:maxUserAgent]
	}
	return ua
}

// createScript stores a new session, sheds expired ids from the index and,
// past the per-user cap, drops the sessions closest to expiry (the least
// recently used).
var createScript = redis.NewScript(`
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('HSET', KEYS[1], 'a', ARGV[1], 'r', ARGV[2], 'c', now, 'u', now, 'ip', ARGV[5], 'ua', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[8])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', ARGV[9] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return over
`)

// Create records the new session of pair p.
func (s *Sessions) Create(ctx context.Context, p *Pair, cl Client) error {
	a, r := &p.AccessClaims, &p.RefreshClaims
	now := s.now()
	return storeErr(createScript.Run(ctx, s.rdb, []string{sessionKey(a.Username, a.SessionID), indexKey(a.Username)},
		a.ID, r.ID, now.UnixMilli(), s.ttlMillis(r, now), cl.IP, clip(cl.UserAgent), s.max, a.SessionID, sessionPrefix(a.Username),
	).Err())
}

// CheckAccess reports whether the access token c is still the live one of
// its session: one Redis round trip. A revoked session, or an access token
// replaced by a rotation, is global.ErrTokenRevoked.
func (s *Sessions) CheckAccess(ctx context.Context, c *Claims) error {
	jti, err := s.rdb.HGet(ctx, sessionKey(c.Username, c.SessionID), "a").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return global.ErrTokenRevoked
	case err != nil:
		return storeErr(err)
	case jti != c.ID:
		return global.ErrTokenRevoked
	}
	return nil
}

// rotateScript swaps in a new pair if ARGV[1] is the session's current refresh
// jti. Otherwise: session gone (0); the previous refresh token within the
// grace period (2, nothing changes); any other rotated-away refresh token
// means theft or replay, so the whole session is revoked (3).
var rotateScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'r', 'p', 't')
if not cur[1] then return 0 end
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
if cur[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'a', ARGV[2], 'r', ARGV[3], 'p', ARGV[1], 't', now, 'u', now, 'ip', ARGV[7], 'ua', ARGV[8])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[9])
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  return 1
end
if cur[2] == ARGV[1] and now - tonumber(cur[3]) < tonumber(ARGV[6]) then return 2 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[9])
return 3
`)

// Rotate replaces the session's tokens by the pair next if old is its
// current refresh token: atomically, so of concurrent rotations with one token
// exactly one succeeds. A reused refresh token revokes the session and returns
// global.ErrTokenReused.
func (s *Sessions) Rotate(ctx context.Context, old *Claims, next *Pair, cl Client) error {
	now := s.now()
	code, err := rotateScript.Run(ctx, s.rdb, []string{sessionKey(old.Username, old.SessionID), indexKey(old.Username)},
		old.ID, next.AccessClaims.ID, next.RefreshClaims.ID, now.UnixMilli(), s.ttlMillis(&next.RefreshClaims, now),
		s.grace.Milliseconds(), cl.IP, clip(cl.UserAgent), old.SessionID,
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
		p.ZRem(ctx, indexKey(user), sid)
		return nil
	})
	if err != nil {
		return false, storeErr(err)
	}
	return del.Val() == 1, nil
}

var revokeAllScript = redis.NewScript(`
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[2] then
    n = n + redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[1], id)
  end
end
return n
`)

// RevokeAll ends every live session of user except the one named except
// (empty: all of them) and returns how many it ended.
func (s *Sessions) RevokeAll(ctx context.Context, user, except string) (int, error) {
	n, err := revokeAllScript.Run(ctx, s.rdb, []string{indexKey(user)}, sessionPrefix(user), except).Int()
	return n, storeErr(err)
}

// List returns the live sessions of user, newest first, marking current.
func (s *Sessions) List(ctx context.Context, user, current string) ([]Session, error) {
	idx := indexKey(user)
	if err := s.rdb.ZRemRangeByScore(ctx, idx, "-inf", strconv.FormatInt(s.now().UnixMilli(), 10)).Err(); err != nil {
		return nil, storeErr(err)
	}
	ids, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	if len(ids) > 0 {
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HMGet(ctx, sessionKey(user, id), "c", "u", "ip", "ua")
			}
			return nil
		})
		if err != nil {
			return nil, storeErr(err)
		}
	}
	out := make([]Session, 0, len(ids))
	for i, id := range ids {
		if sess, ok := decodeSession(id, cmds[i].Val()); ok {
			sess.Current = id == current
			out = append(out, sess)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Get returns one live session of user; global.ErrNotFound if there is none.
func (s *Sessions) Get(ctx context.Context, user, sid string) (Session, error) {
	v, err := s.rdb.HMGet(ctx, sessionKey(user, sid), "c", "u", "ip", "ua").Result()
	if err != nil {
		return Session{}, storeErr(err)
	}
	sess, ok := decodeSession(sid, v)
	if !ok {
		return Session{}, global.ErrNotFound
	}
	return sess, nil
}

func decodeSession(id string, v []any) (Session, bool) {
	if len(v) != 4 || v[0] == nil {
		return Session{}, false
	}
	str := func(x any) string { s, _ := x.(string); return s }
	ms := func(x any) time.Time { n, _ := strconv.ParseInt(str(x), 10, 64); return time.UnixMilli(n).UTC() }
	return Session{ID: id, CreatedAt: ms(v[0]), RefreshedAt: ms(v[1]), IP: str(v[2]), UserAgent: str(v[3])}, true
}
