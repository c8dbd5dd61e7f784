package utils

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"
)

// Many concurrent checks, more than the pipelines in flight can carry at
// once: every one gets its own key's answer, and a missing key reads "".
func TestBatcherAnswersEachCheckWithItsOwnKey(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer func() { _ = rdb.Close() }()
	for i := range 300 {
		if i%7 != 0 {
			_ = mr.Set(fmt.Sprintf("k%d", i), fmt.Sprintf("%04d-rest-of-value", i))
		}
	}
	b := newBatcher(rdb)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for j := range 50 {
				i := (g*50 + j) % 300
				got, err := b.getRange(context.Background(), fmt.Sprintf("k%d", i), 4)
				want := fmt.Sprintf("%04d", i)
				if i%7 == 0 {
					want = ""
				}
				if err != nil || got != want {
					t.Errorf("k%d: %q, %v; want %q", i, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.inflight != 0 || len(b.queue) != 0 {
		t.Fatalf("after the load: %d pipelines in flight, %d queued", b.inflight, len(b.queue))
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
