// Package testkit holds test helpers: the Redis backends every storage
// test runs against, a settable clock and unique names.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/initialize"
)

// Backend is one Redis to run a test against. Mini is set for the embedded
// miniredis only (it can fast-forward time); real Redis leaves it nil.
type Backend struct {
	Name   string
	Client redis.UniversalClient
	Mini   *miniredis.Miniredis
}

// Backends returns miniredis and, when REDIS_TEST_ADDR is set, the real
// Redis there, and, when REDIS_TEST_CLUSTER is set, that Redis Cluster
// (named "cluster"). With REQUIRE_REDIS=1 (CI) a missing or unreachable real
// Redis fails the test instead of quietly testing miniredis alone; a
// configured cluster that does not answer always fails it.
func Backends(t testing.TB) []Backend {
	t.Helper()
	m := miniredis.RunT(t)
	mini := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	t.Cleanup(func() { _ = mini.Close() })
	out := []Backend{{Name: "miniredis", Client: mini, Mini: m}}
	if real := RealRedis(t); real != nil {
		out = append(out, Backend{Name: "redis", Client: real})
	}
	if cluster := ClusterRedis(t); cluster != nil {
		out = append(out, Backend{Name: "cluster", Client: cluster})
	}
	return out
}

// ExclusiveBackends is Backends for a test that needs the keys shared by
// every user (the admin registry, the user index) to itself, such as the
// last-admin rule: miniredis and, when REDIS_TEST_ADDR is set, database db of
// that Redis, emptied first. Each package that uses it picks its own db (1 to
// 15) and runs those tests one at a time. A Cluster has database 0 only,
// which other tests share, so it is not among them.
func ExclusiveBackends(t testing.TB, db int) []Backend {
	t.Helper()
	out := Backends(t)[:1]
	if RealRedis(t) == nil {
		return out
	}
	c := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_TEST_ADDR"), DB: db})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("REDIS_TEST_ADDR database %d: %v", db, err)
	}
	return append(out, Backend{Name: "redis", Client: c})
}

// ClusterAddrs returns the node addresses of REDIS_TEST_CLUSTER (a comma
// list), nil when it is unset.
func ClusterAddrs() []string {
	var out []string
	for _, a := range strings.Split(os.Getenv("REDIS_TEST_CLUSTER"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ClusterRedis returns a Cluster client for REDIS_TEST_CLUSTER, nil when it
// is unset. It is a Cluster client even for one seed address, and the test
// fails unless the cluster answers with cluster_state:ok.
func ClusterRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	addrs := ClusterAddrs()
	if len(addrs) == 0 {
		return nil
	}
	// The service's own constructor: it reads Redis 7's CLUSTER SLOTS and
	// COMMAND replies, which go-redis v8 cannot (docs/SCALING.md).
	c := initialize.NewClusterClient(&redis.UniversalOptions{Addrs: addrs})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		_ = c.Close()
		t.Fatalf("REDIS_TEST_CLUSTER=%s is not a healthy cluster: %v %q", strings.Join(addrs, ","), err, info)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// RealRedis returns a client for REDIS_TEST_ADDR, nil when it is unset
// (a failure instead when REQUIRE_REDIS=1).
func RealRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	addr := os.Getenv("REDIS_TEST_ADDR")
	if addr == "" {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatal("REQUIRE_REDIS=1 but REDIS_TEST_ADDR is not set: tests must run against a real Redis")
		}
		return nil
	}
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("REDIS_TEST_ADDR=%s does not answer: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Name returns a fresh username, so tests sharing one real Redis never touch
// each other's keys.
func Name(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// IP returns a fresh client address in 198.18.0.0/15 (RFC 2544's
// benchmarking range), so per-IP budgets of concurrent tests stay apart.
func IP(t testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("198.%d.%d.%d", 18+b[0]%2, b[1], b[2])
}

// Clock is a settable clock for code that takes now func() time.Time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed, whole-second instant.
func NewClock() *Clock { return &Clock{t: time.Now().Truncate(time.Second)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
