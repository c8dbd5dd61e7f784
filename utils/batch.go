package utils

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/go-redis/redis/v8"
)

// Batching of the Redis commands on the request path. Each private request
// must ask Redis whether its token is still live (and a DPoP request spends
// its proof's jti; a login opens and a refresh rotates its session); one
// round trip each costs two syscalls and a wake-up of Redis per request,
// which on a busy instance is most of the request's CPU. Instead, the
// commands of concurrent requests share a pipeline: one write and one read
// for many requests. Every command is still sent after its request arrived,
// so a revocation is seen by the very next request: there is no cache.
//
// There is no worker goroutine to hand commands to: a request that finds
// fewer than maxInflight pipelines out sends its own (with whatever is
// queued), on its own goroutine, and needs no wake-up at all. A request that
// finds them all out queues its commands and sleeps; when a pipeline comes
// back, its sender wakes the first queued request to send the next one, with
// the rest of the queue. So each request costs at most one wake-up, and an
// idle instance none.
//
// In a Redis Cluster the pipeline is go-redis's cluster pipeline: it sends
// each command to the node of its key, so requests for keys of different
// slots still share a batch.
const (
	maxInflight = 2
	maxBatch    = 128 // requests in one pipeline
)

// Where a queued request is: waiting in the queue, chosen to send the next
// pipeline, or taken into a pipeline by another request.
const (
	queued = iota
	leading
	taken
)

type batchReq struct {
	cmds  []redis.Cmder
	state int // guarded by the batcher's mu
	done  chan struct{}
	room  [2]redis.Cmder // cmds' storage for the usual one or two
}

var batchReqPool = sync.Pool{New: func() any { return &batchReq{done: make(chan struct{}, 1)} }}

// batcher sends the commands of concurrent requests in shared pipelines.
type batcher struct {
	rdb redis.UniversalClient

	mu       sync.Mutex
	inflight int // pipelines being sent
	queue    []*batchReq
}

func newBatcher(rdb redis.UniversalClient) *batcher { return &batcher{rdb: rdb} }

// do sends cmds, in order, in a pipeline shared with other requests' and
// returns once each holds its answer (or its error: a failed pipeline fails
// each of its commands). Its error is only ctx's, when the request gave up
// waiting: then cmds may still be written to and must not be read.
func (b *batcher) do(ctx context.Context, cmds ...redis.Cmder) error {
	r := batchReqPool.Get().(*batchReq)
	r.cmds = append(r.room[:0], cmds...)
	b.mu.Lock()
	if b.inflight < maxInflight {
		b.inflight++
		r.state = leading
		b.mu.Unlock()
		b.lead(r)
		return nil
	}
	r.state = queued
	b.queue = append(b.queue, r)
	b.mu.Unlock()

	select {
	case <-r.done:
	case <-ctx.Done():
		b.mu.Lock()
		state := r.state
		if state == queued { // nobody holds it: take it out
			for i, q := range b.queue {
				if q == r {
					b.queue = append(b.queue[:i], b.queue[i+1:]...)
					break
				}
			}
		}
		b.mu.Unlock()
		switch state {
		case queued:
			b.release(r)
			return ctx.Err()
		case taken:
			// Its sender still writes the commands and signals done: r
			// is not reused.
			return ctx.Err()
		}
		<-r.done // chosen to lead: the queue behind it depends on it
	}
	if r.state == leading {
		b.lead(r)
		return nil
	}
	b.release(r)
	return nil
}

// lead sends r's commands together with what is queued, then passes the
// pipeline slot on and wakes the requests it answered.
func (b *batcher) lead(r *batchReq) {
	b.mu.Lock()
	n := min(len(b.queue), maxBatch-1)
	batch := make([]*batchReq, 0, n+1)
	batch = append(batch, r)
	for _, q := range b.queue[:n] {
		q.state = taken
		batch = append(batch, q)
	}
	b.queue = append(b.queue[:0], b.queue[n:]...)
	b.mu.Unlock()

	b.send(batch)

	// The slot first, so the next pipeline goes out while these wake.
	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		b.queue = b.queue[1:]
		next.state = leading
		b.mu.Unlock()
		next.done <- struct{}{}
	} else {
		b.inflight--
		b.mu.Unlock()
	}
	for _, q := range batch[1:] {
		q.done <- struct{}{}
	}
	b.release(r)
}

func (b *batcher) release(r *batchReq) {
	clear(r.room[:])
	r.cmds = nil
	batchReqPool.Put(r)
}

// send runs the batch as one pipeline (a single command when alone). Not a
// request's context: the pipeline serves other requests too. It is bounded
// by the client's read and write timeouts, and each waiter also watches its
// own context.
func (b *batcher) send(batch []*batchReq) {
	ctx := context.Background()
	if len(batch) == 1 && len(batch[0].cmds) == 1 {
		_ = b.rdb.Process(ctx, batch[0].cmds[0])
		return
	}
	pipe := b.rdb.Pipeline()
	for _, r := range batch {
		for _, c := range r.cmds {
			_ = pipe.Process(ctx, c)
		}
	}
	_, _ = pipe.Exec(ctx) // each command holds its own answer or error
}

// getRange reads the first n bytes of the value at key, batched ("" when
// there is none).
func (b *batcher) getRange(ctx context.Context, key string, n int) (string, error) {
	cmd := getRangeCmd(ctx, key, n)
	if err := b.do(ctx, cmd); err != nil {
		return "", err
	}
	return cmd.Result()
}

// script is one script call of a pipeline.
type script struct {
	s    *redis.Script
	keys []string
	args []any
}

// getRangeCmd reads the first n bytes of key's value.
func getRangeCmd(ctx context.Context, key string, n int) *redis.StringCmd {
	return redis.NewStringCmd(ctx, "getrange", key, 0, n-1)
}

// scripts runs the scripts (EVALSHA each, in order) in a pipeline shared
// with other requests' commands; one Redis does not know yet (NOSCRIPT: it
// did not run) is run again on its own, which loads it. It returns each
// script's command; its error is the first script's that failed (a nil
// reply is not a failure).
func (b *batcher) scripts(ctx context.Context, calls ...script) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	cmders := make([]redis.Cmder, len(calls))
	for i, c := range calls {
		args := make([]any, 0, 3+len(c.keys)+len(c.args))
		args = append(args, "evalsha", c.s.Hash(), len(c.keys))
		for _, k := range c.keys {
			args = append(args, k)
		}
		cmds[i] = redis.NewCmd(ctx, append(args, c.args...)...)
		cmders[i] = cmds[i]
	}
	if err := b.do(ctx, cmders...); err != nil {
		return nil, err
	}
	for i, c := range calls {
		if e := cmds[i].Err(); e != nil && strings.HasPrefix(e.Error(), "NOSCRIPT") {
			cmds[i] = c.s.Run(ctx, b.rdb, c.keys, c.args...)
		}
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return cmds, e
		}
	}
	return cmds, nil
}
