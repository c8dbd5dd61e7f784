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

// Queue adds the spending of p's jti to pipe and returns what reads its
// answer once pipe has run (the errors of Use): so the jti rides in the
// same round trip as the request's access check.
func (r *Replays) Queue(ctx context.Context, pipe redis.Pipeliner, p *Proof) func() error {
	cmd := pipe.SetNX(ctx, r.key(p), "", r.ttl)
	return func() error { return spent(cmd.Result()) }
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

// Spend is the spending of p's jti as a command riding in the pipeline of
// an access check (utils.Sessions.CheckAccessWith): one round trip for both.
func (r *Replays) Spend(p *Proof) utils.Also {
	return func(ctx context.Context, pipe redis.Pipeliner) func() error { return r.Queue(ctx, pipe, p) }
}
