package mfa

import (
	"context"

	"github.com/go-redis/redis/v8"
)

// Purger removes a user's second factor when the account is deleted, so a
// name registered again never inherits the old owner's TOTP key or recovery
// codes. It needs no DATA_KEY: it only deletes.
type Purger struct{ rdb redis.UniversalClient }

// NewPurger returns a Purger on rdb.
func NewPurger(rdb redis.UniversalClient) Purger { return Purger{rdb: rdb} }

// DeleteAll deletes user's TOTP state and recovery codes (one slot: both
// keys carry the hash tag {user}). A pending login challenge of user dies
// with the account: its second step finds no second factor and no user.
func (p Purger) DeleteAll(ctx context.Context, user string) error {
	return storeErr(p.rdb.Del(ctx, stateKey(user), codesKey(user)).Err())
}
