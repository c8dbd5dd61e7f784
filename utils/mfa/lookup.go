package mfa

import (
	"context"

	"github.com/go-redis/redis/v8"
)

// Lookup tells whether users have TOTP on, for the administrators' views
// (the admin API's user object, `go-jwt user list`). Like Purger it needs
// no DATA_KEY: it only asks whether a secret is stored.
type Lookup struct{ rdb redis.UniversalClient }

// NewLookup returns a Lookup on rdb.
func NewLookup(rdb redis.UniversalClient) Lookup { return Lookup{rdb: rdb} }

// TOTPOn reports, for each of users in order, whether TOTP is on (an
// enrollment only pending is off, as in Store.Status): one pipelined
// HEXISTS per user, one round trip (per node on a Cluster).
func (l Lookup) TOTPOn(ctx context.Context, users []string) ([]bool, error) {
	if len(users) == 0 {
		return []bool{}, nil
	}
	cmds := make([]*redis.BoolCmd, len(users))
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, u := range users {
			cmds[i] = p.HExists(ctx, stateKey(u), "s")
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	on := make([]bool, len(users))
	for i, c := range cmds {
		on[i] = c.Val()
	}
	return on, nil
}
