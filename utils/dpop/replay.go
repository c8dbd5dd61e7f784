package dpop

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
	"go-jwt/utils"
)

// Replays keeps the jti of every proof used within its acceptance window in
// Redis, so that a proof is accepted once (RFC 9449 §11.1), by any instance
// sharing the Redis. One SET NX PX per proof: the key is 16 raw bytes of a
// hash of key thumbprint and jti (a jti is only unique per key), the value
// empty, and it expires a little after the proof would be refused as stale
// anyway: nothing grows without bound.
type Replays struct {
	rdb redis.Cmdable
	ttl time.Duration
}

// NewReplays returns the jti store on rdb for proofs accepted up to maxAge
// old and FutureSkew ahead.
func NewReplays(rdb redis.Cmdable, maxAge time.Duration) *Replays {
	// A proof dated FutureSkew ahead is accepted until FutureSkew+maxAge
	// from now; another FutureSkew covers the clocks of other instances.
	return &Replays{rdb: rdb, ttl: maxAge + 2*FutureSkew}
}

// TTL is how long a used jti is kept.
func (r *Replays) TTL() time.Duration { return r.ttl }

func (r *Replays) key(p *Proof) string {
	sum := sha256.Sum256([]byte(p.JKT + "." + p.JTI))
	return global.KeyDPoPJTI + string(sum[:16])
}

// Use spends p's jti: ErrReplayed when it was spent before, a wrapped
// global.ErrStoreUnavailable when Redis fails.
func (r *Replays) Use(ctx context.Context, p *Proof) error {
	ok, err := r.rdb.SetNX(ctx, r.key(p), "", r.ttl).Result()
	return spent(ok, err)
}

// Spend is the spending of p's jti as a command riding with the access
// check (utils.Sessions.CheckAccessWith): in the same pipeline, batched with
// other requests' checks. The returned function reads its answer (the
// errors of Use) once the command ran.
func (r *Replays) Spend(p *Proof) utils.Also {
	return func(ctx context.Context) (redis.Cmder, func() error) {
		cmd := redis.NewBoolCmd(ctx, "set", r.key(p), "", "px", max(r.ttl.Milliseconds(), 1), "nx")
		return cmd, func() error { return spent(cmd.Result()) }
	}
}

func spent(fresh bool, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err)
	case !fresh:
		return ErrReplayed
	}
	return nil
}
