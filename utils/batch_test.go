package utils

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"
)

// Many concurrent checks, more than the pipelines in flight can carry at
// once, some with a command of their own and some only a command: every
// one gets its own key's answer (a missing key, or one holding no string,
// reads ""), and every command runs once. The same with the keys of a batch
// in one MGET and, as on a cluster, a GETRANGE each.
func TestBatcherAnswersEachCheckWithItsOwnKey(t *testing.T) {
	for _, mget := range []bool{true, false} {
		t.Run(fmt.Sprintf("mget=%v", mget), func(t *testing.T) {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			defer func() { _ = rdb.Close() }()
			for i := range 300 {
				switch {
				case i%13 == 0:
					mr.HSet(fmt.Sprintf("k%d", i), "f", "v")
				case i%7 != 0:
					_ = mr.Set(fmt.Sprintf("k%d", i), fmt.Sprintf("%04d-rest-of-value", i))
				}
			}
			b := newBatcher(rdb)
			if b.mget != true {
				t.Fatal("one Redis: the batcher does not use MGET")
			}
			b.mget = mget
			var wg sync.WaitGroup
			var incrs atomic.Int64
			for g := range 64 {
				wg.Go(func() {
					for j := range 50 {
						i := (g*50 + j) % 300
						key := fmt.Sprintf("k%d", i)
						var cmds []redis.Cmder
						if j%5 == 0 {
							cmds = append(cmds, redis.NewIntCmd(context.Background(), "incr", "counter"))
							incrs.Add(1)
						}
						if j%11 == 0 {
							key = ""
						}
						got, err := b.do(context.Background(), key, 4, cmds...)
						want := fmt.Sprintf("%04d", i)
						if i%7 == 0 || i%13 == 0 || key == "" {
							want = ""
						}
						if err != nil || got != want {
							t.Errorf("%q: %q, %v; want %q", key, got, err, want)
							return
						}
						for _, c := range cmds {
							if c.Err() != nil {
								t.Errorf("incr: %v", c.Err())
							}
						}
					}
				})
			}
			wg.Wait()
			if b.inflight != 0 || len(b.queue) != 0 {
				t.Fatalf("after the load: %d pipelines in flight, %d queued", b.inflight, len(b.queue))
			}
			if n, _ := mr.Get("counter"); n != fmt.Sprint(incrs.Load()) {
				t.Fatalf("counter %s, want %d", n, incrs.Load())
			}
		})
	}
}

// A cluster's batches read each key with its own GETRANGE: its keys are on
// different nodes, and an MGET across slots fails.
func TestBatcherNoMGETOnACluster(t *testing.T) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer func() { _ = rdb.Close() }()
	if newBatcher(rdb).mget {
		t.Fatal("MGET on a cluster")
	}
}

// A queued check whose request gives up returns at once; the checks queued
// behind it and the pipeline slots are not lost.
func TestBatcherSurvivesCancelledChecks(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer func() { _ = rdb.Close() }()
	_ = mr.Set("k", "value")
	b := newBatcher(rdb)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for j := range 40 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+j)%3 == 0 {
					cancel() // gives up before or while waiting
				}
				got, err := b.getRange(ctx, "k", 2)
				cancel()
				if err == nil && got != "va" {
					t.Errorf("got %q", got)
				}
			}
		})
	}
	wg.Wait()
	got, err := b.getRange(context.Background(), "k", 2)
	if err != nil || got != "va" {
		t.Fatalf("after cancellations: %q, %v", got, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight != 0 || len(b.queue) != 0 {
		t.Fatalf("%d pipelines in flight, %d queued: a slot or a check was lost", b.inflight, len(b.queue))
	}
}

// A request that gave up before its pipeline was made sends nothing: its
// command never reaches Redis, and it gets its context's error. The same
// when it is queued behind a pipeline out (a slow script holds it there).
func TestBatcherSendsNothingForAGoneRequest(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer func() { _ = rdb.Close() }()
	b := newBatcher(rdb)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	incr := redis.NewIntCmd(gone, "incr", "counter")
	if _, err := b.do(gone, "k", 2, incr); !errors.Is(err, context.Canceled) {
		t.Fatalf("alone: %v, want context.Canceled", err)
	}

	// Queued: one pipeline is out (a request holding the slot), and the
	// request gives up before it comes back.
	b.mu.Lock()
	b.inflight = maxInflight
	b.mu.Unlock()
	ctx, cancelQueued := context.WithCancel(context.Background())
	queuedIncr := redis.NewIntCmd(ctx, "incr", "counter")
	errc := make(chan error, 1)
	go func() { _, err := b.do(ctx, "", 0, queuedIncr); errc <- err }()
	for {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancelQueued()
	b.mu.Lock()
	b.inflight--
	b.mu.Unlock()
	// The next request finds the slot free and leads the queue.
	if _, err := b.do(context.Background(), "", 0, redis.NewStatusCmd(context.Background(), "ping")); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued: %v, want context.Canceled", err)
	}
	if mr.Exists("counter") {
		v, _ := mr.Get("counter")
		t.Fatalf("a gone request's command ran: counter %s", v)
	}
	if b.inflight != 0 || len(b.queue) != 0 {
		t.Fatalf("%d pipelines in flight, %d queued", b.inflight, len(b.queue))
	}
}

// A Redis failure reaches every check of the pipeline as an error.
func TestBatcherReportsRedisFailure(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer func() { _ = rdb.Close() }()
	b := newBatcher(rdb)
	mr.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := b.getRange(context.Background(), "k", 2); err == nil {
				t.Error("no error with Redis down")
			}
		})
	}
	wg.Wait()
}
