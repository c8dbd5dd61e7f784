package utils

import (
	"context"
	"sync"

	"github.com/go-redis/redis/v8"
)

// Batching of access checks. Each private request must ask Redis whether its
// token is still live; one round trip each costs two syscalls and a wake-up of
// Redis per request, which on a busy instance is most of the request's CPU.
// Instead, checks of concurrent requests are queued and a few workers send
// whatever is waiting as one pipeline: one write and one read for many
// requests. Every check still reads Redis after the request arrived, so a
// revocation is seen by the very next request: there is no cache.
const (
	batchWorkers = 2
	maxBatch     = 128
)

type prefixReq struct {
	ctx  context.Context
	key  string
	val  string
	err  error
	done chan struct{}
}

var prefixReqPool = sync.Pool{New: func() any { return &prefixReq{done: make(chan struct{}, 1)} }}

// prefixBatcher reads the first n bytes of one string key per request,
// batched (GETRANGE: a missing key reads as "").
type prefixBatcher struct {
	rdb   redis.UniversalClient
	end   int64
	queue chan *prefixReq
}

func newPrefixBatcher(ctx context.Context, rdb redis.UniversalClient, n int) *prefixBatcher {
	b := &prefixBatcher{rdb: rdb, end: int64(n - 1), queue: make(chan *prefixReq, 4*maxBatch)}
	for range batchWorkers {
		go b.work(ctx)
	}
	return b
}

// get returns the first n bytes of the value at key, "" when there is none.
func (b *prefixBatcher) get(ctx context.Context, key string) (string, error) {
	r := prefixReqPool.Get().(*prefixReq)
	r.ctx, r.key = ctx, key
	select {
	case b.queue <- r:
	case <-ctx.Done():
		prefixReqPool.Put(r)
		return "", ctx.Err()
	}
	select {
	case <-r.done:
		val, err := r.val, r.err
		r.ctx, r.val, r.err = nil, "", nil
		prefixReqPool.Put(r)
		return val, err
	case <-ctx.Done():
		// The worker still owns r and will signal done; r is not reused.
		return "", ctx.Err()
	}
}

func (b *prefixBatcher) work(ctx context.Context) {
	batch := make([]*prefixReq, 0, maxBatch)
	cmds := make([]*redis.StringCmd, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-b.queue:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.send(batch, cmds[:0])
	}
}

// send runs the batch as one pipeline (a single command when alone) and
// hands each request its answer.
func (b *prefixBatcher) send(batch []*prefixReq, cmds []*redis.StringCmd) {
	if len(batch) == 1 {
		r := batch[0]
		r.val, r.err = b.rdb.GetRange(r.ctx, r.key, 0, b.end).Result()
		r.done <- struct{}{}
		return
	}
	// The pipeline outlives no request: it is bounded by the client's
	// read/write timeouts, and each waiter also watches its own context.
	ctx := context.Background()
	pipe := b.rdb.Pipeline()
	for _, r := range batch {
		cmds = append(cmds, pipe.GetRange(ctx, r.key, 0, b.end))
	}
	_, err := pipe.Exec(ctx)
	for i, r := range batch {
		r.val, r.err = cmds[i].Result()
		if r.err == nil && err != nil {
			r.err = err
		}
		r.done <- struct{}{}
	}
}
