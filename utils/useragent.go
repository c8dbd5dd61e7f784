package utils

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// The User-Agent table. A browser's User-Agent is 100-150 bytes, most users
// run one of a few browsers, and a session needs it only to be listed; so a
// session holds 8 bytes of its hash, and the text is kept once at
// global.KeyUserAgent+hex(hash), for every session that shares it.
//
// That key lives in a slot of its own (not under the user's hash tag), so it
// is written by a command of its own, pipelined with the session's script
// (useragent.go's is the only key outside {user}: Cluster safe). It never
// expires before a session that names it: each write leaves it at least the
// session's own TTL (uaScript only lengthens it). A login writes it for the
// new session's TTL. A rotation writes it for SESSION_MAX_AGE, which no
// session outlives, and the new refresh token names it (uah): so the next
// rotation from the same User-Agent writes nothing (one script per refresh
// instead of two), and only a refresh from another User-Agent (or with a
// token from before uah, or from a login) stores it again. Only listing
// reads it; a lost entry (an operator's FLUSHDB, an eviction) shows as an
// empty User-Agent until a login or a refresh from another User-Agent
// stores it again, and never affects a token.

func userAgentKey(hash string) string { return global.KeyUserAgent + hex.EncodeToString([]byte(hash)) }

// uaScript stores the User-Agent text and makes it live at least ARGV[2] ms.
var uaScript = redis.NewScript(`
local t = redis.call('PTTL', KEYS[1])
if t == -1 or t >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// userAgentCall is the pipelined write of ua's text for a session kept ttl
// ms; nothing when the session has no User-Agent.
func userAgentCall(hash, ua string, ttl int64) []script {
	if ua == "" {
		return nil
	}
	return []script{{uaScript, []string{userAgentKey(hash)}, []any{ua, ttl}}}
}

// userAgents returns the text of each hash (none for zeros), one GET each
// in one pipeline: the keys are in slots of their own, so not one MGET.
func (s *Sessions) userAgents(ctx context.Context, hashes []string) (map[string]string, error) {
	out := make(map[string]string, len(hashes))
	cmds := make(map[string]*redis.StringCmd, len(hashes))
	pipe := s.rdb.Pipeline()
	for _, h := range hashes {
		if _, seen := cmds[h]; !seen && strings.Trim(h, "\x00") != "" {
			cmds[h] = pipe.Get(ctx, userAgentKey(h))
		}
	}
	if len(cmds) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr(err)
	}
	for h, c := range cmds {
		out[h] = c.Val()
	}
	return out, nil
}
