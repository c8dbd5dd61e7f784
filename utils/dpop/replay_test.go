package dpop_test

import (
	"errors"
	"testing"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// TestReplays runs on miniredis and, when configured, real Redis and a
// Cluster: a jti is accepted once, per key, by any instance on the same
// Redis, alone or pipelined; it is kept longer than a proof is accepted
// and then forgotten.
func TestReplays(t *testing.T) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			r, other := dpop.NewReplays(b.Client, maxAge), dpop.NewReplays(b.Client, maxAge)
			p := &dpop.Proof{JKT: testkit.Name(t), JTI: testkit.Name(t)}
			if err := r.Use(ctx, p); err != nil {
				t.Fatalf("first use: %v", err)
			}
			if err := r.Use(ctx, p); !errors.Is(err, dpop.ErrReplayed) || global.DPoPReason(err) != "replayed" {
				t.Fatalf("replayed jti: %v", err)
			}
			if err := other.Use(ctx, p); !errors.Is(err, dpop.ErrReplayed) {
				t.Fatalf("replayed on another instance: %v", err)
			}
			if err := r.Use(ctx, &dpop.Proof{JKT: p.JKT + "x", JTI: p.JTI}); err != nil {
				t.Fatalf("the same jti under another key: %v", err)
			}

			q := &dpop.Proof{JKT: p.JKT, JTI: testkit.Name(t)}
			pipe := b.Client.Pipeline()
			cmd1, first := r.Spend(q)(ctx)
			cmd2, again := r.Spend(q)(ctx)
			_ = pipe.Process(ctx, cmd1)
			_ = pipe.Process(ctx, cmd2)
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			if err := first(); err != nil {
				t.Fatalf("pipelined first use: %v", err)
			}
			if err := again(); !errors.Is(err, dpop.ErrReplayed) {
				t.Fatalf("pipelined replay: %v", err)
			}

			if r.TTL() <= maxAge+dpop.FutureSkew {
				t.Fatalf("a jti is kept %v: not longer than a proof is accepted (%v)", r.TTL(), maxAge+dpop.FutureSkew)
			}
			if b.Mini != nil {
				b.Mini.FastForward(r.TTL())
				if err := r.Use(ctx, p); err != nil {
					t.Fatalf("a jti past its TTL is still kept: %v", err)
				}
			}
		})
	}
}

func TestReplaysRedisDown(t *testing.T) {
	b := testkit.Backends(t)[0]
	b.Mini.Close()
	err := dpop.NewReplays(b.Client, maxAge).Use(t.Context(), &dpop.Proof{JKT: "k", JTI: "j"})
	if !errors.Is(err, global.ErrStoreUnavailable) || errors.Is(err, global.ErrDPoPProof) {
		t.Fatalf("Redis down: %v, want store unavailable", err)
	}
}
