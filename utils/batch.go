package utils

import (
	"context"
	"sync"

	"github.com/go-redis/redis/v8"
)

// Batching of access checks. Each private request must ask Redis whether its
// token is still live; one round trip each costs two syscalls and a wake-up of
// Redis per request, which on a busy instance is most of the request's CPU.
// Instead, checks of concurrent requests share a pipeline: one write and one
// read for many requests. Every check still reads Redis after the request
// arrived, so a revocation is seen by the very next request: there is no
// cache.
//
// There is no worker goroutine to hand checks to: a request that finds fewer
// than maxInflight pipelines out sends its own (with whatever is queued),
// on its own goroutine, and needs no wake-up at all. A request that finds
// them all out queues its check and sleeps; when a pipeline comes back, its
// sender wakes the first queued request to send the next one, with the rest
// of the queue. So each request costs at most one wake-up (two before: the
// worker's and its own), and an idle instance none.
const (
	maxInflight = 2
	maxBatch    = 128
)

// Where a queued check is: waiting in the queue, chosen to send the next
// pipeline, or taken into a pipeline by another request.
const (
	queued = iota
	leading
	taken
)

type prefixReq struct {
	key   string
	val   string
	err   error
	state int // guarded by the batcher's mu
	done  chan struct{}
}

var prefixReqPool = sync.Pool{New: func() any { return &prefixReq{done: make(chan struct{}, 1)} }}

// prefixBatcher reads the first n bytes of one string key per request,
// batched (GETRANGE: a missing key reads as "").
type prefixBatcher struct {
	rdb redis.UniversalClient
	end int64

	mu       sync.Mutex
	inflight int // pipelines being sent
	queue    []*prefixReq
}

func newPrefixBatcher(rdb redis.UniversalClient, n int) *prefixBatcher {
	return &prefixBatcher{rdb: rdb, end: int64(n - 1)}
}

// get returns the first n bytes of the value at key, "" when there is none.
func (b *prefixBatcher) get(ctx context.Context, key string) (string, error) {
	r := prefixReqPool.Get().(*prefixReq)
	r.key = key
	b.mu.Lock()
	if b.inflight < maxInflight {
		b.inflight++
		r.state = leading
		b.mu.Unlock()
		return b.lead(ctx, r)
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
			r.key = ""
			prefixReqPool.Put(r)
			return "", ctx.Err()
		case taken:
			// Its sender still writes r and signals done: r is not reused.
			return "", ctx.Err()
		}
		<-r.done // chosen to lead: the queue behind it depends on it
	}
	if r.state == leading {
		return b.lead(ctx, r)
	}
	return b.release(r)
}

// lead sends r's check together with what is queued, hands every request
// of the pipeline its answer, then passes the pipeline slot on.
func (b *prefixBatcher) lead(ctx context.Context, r *prefixReq) (string, error) {
	b.mu.Lock()
	n := min(len(b.queue), maxBatch-1)
	batch := make([]*prefixReq, 0, n+1)
	batch = append(batch, r)
	for _, q := range b.queue[:n] {
		q.state = taken
		batch = append(batch, q)
	}
	b.queue = append(b.queue[:0], b.queue[n:]...)
	b.mu.Unlock()

	b.send(ctx, batch)

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
	return b.release(r)
}

// release returns r's answer and r to the pool.
func (b *prefixBatcher) release(r *prefixReq) (string, error) {
	val, err := r.val, r.err
	r.key, r.val, r.err = "", "", nil
	prefixReqPool.Put(r)
	return val, err
}

// send runs the batch as one pipeline (a single command when alone).
func (b *prefixBatcher) send(ctx context.Context, batch []*prefixReq) {
	if len(batch) == 1 {
		r := batch[0]
		r.val, r.err = b.rdb.GetRange(ctx, r.key, 0, b.end).Result()
		return
	}
	// Not the sender's own context: the pipeline serves other requests too.
	// It is bounded by the client's read/write timeouts, and each waiter
	// also watches its own context.
	pctx := context.Background()
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(batch))
	for i, r := range batch {
		cmds[i] = pipe.GetRange(pctx, r.key, 0, b.end)
	}
	_, err := pipe.Exec(pctx)
	for i, r := range batch {
		r.val, r.err = cmds[i].Result()
		if r.err == nil && err != nil {
			r.err = err
		}
	}
}
