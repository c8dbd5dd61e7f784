package utils

import (
	"context"
	"errors"
	"runtime"
	"strconv"
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
// A request that finds the pipeline free yields once (runtime.Gosched)
// before it sends. The requests that the same network poll made runnable
// then reach the queue and ride in its pipeline, instead of it going out
// alone and them waiting for the next one. Under wrk's load 40-47 % of the
// pipelines had carried a single check; with the yield 7-9 %, and Redis's
// CPU per check fell from 2.5-3.0 to 2.1-2.3 µs (docs/BENCHMARKS.md, round
// 6). On an idle instance there is nothing else to run, and the yield
// returns at once.
//
// One pipeline in flight, not two: Redis runs commands one at a time anyway,
// and the batches are twice as big (about 18 checks instead of 9 under the
// benchmark's load), so its CPU per check fell from 2.9 to 2.1 µs (one MGET
// for all of them) at no cost in p99 (docs/BENCHMARKS.md, round 4).
//
// In a Redis Cluster the pipeline is go-redis's cluster pipeline: it sends
// each command to the node of its key, so requests for keys of different
// slots still share a batch.
const (
	maxInflight = 1
	maxBatch    = 128 // requests in one pipeline
)

type batchReq struct {
	ctx  context.Context
	cmds []redis.Cmder
	key  string // a key whose value's first n bytes are read ("" for none)
	n    int
	val  string // what was read at key
	err  error  // why it was not
	lead bool   // chosen to send the next pipeline (set before done)
	done chan struct{}
	room [2]redis.Cmder // cmds' storage for the usual one
}

var batchReqPool = sync.Pool{New: func() any { return &batchReq{done: make(chan struct{}, 1)} }}

// batcher sends the commands of concurrent requests in shared pipelines.
type batcher struct {
	rdb  redis.UniversalClient
	mget bool // the keys of a batch may share one MGET (not on a cluster)

	mu       sync.Mutex
	inflight int // pipelines being sent
	queue    []*batchReq
}

// newBatcher batches rdb's commands. On one Redis (or a Sentinel's
// master) the keys read by a batch's requests share one MGET: Redis then
// runs one command for all of them instead of one each. A cluster's keys
// live on different nodes, and each gets its own GETRANGE there.
func newBatcher(rdb redis.UniversalClient) *batcher {
	_, single := rdb.(*redis.Client)
	return &batcher{rdb: rdb, mget: single}
}

// do reads the first n bytes of the value at key ("" for none: the key
// is missing, or holds no string) and sends cmds, in a pipeline shared with
// other requests' reads and commands; it returns once each holds its answer
// (a failed pipeline fails each of them). With key "" it only sends cmds.
//
// A request whose ctx is done when its pipeline is made sends nothing and
// gets ctx's error: a client that went away adds no work to Redis (on the
// routes whose requests are canceled so: initialize/quietconn.go). Queued,
// a request does not watch ctx: that cost a channel and a select per request
// (about a microsecond under load), and its wait is bounded anyway, by the
// Redis client's timeouts on the pipelines ahead of it.
func (b *batcher) do(ctx context.Context, key string, n int, cmds ...redis.Cmder) (string, error) {
	r := batchReqPool.Get().(*batchReq)
	r.ctx = ctx
	r.cmds = append(r.room[:0], cmds...)
	r.key, r.n = key, n
	b.mu.Lock()
	if b.inflight < maxInflight {
		b.inflight++
		b.mu.Unlock()
		runtime.Gosched()
		b.lead(r)
		return b.release(r)
	}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	<-r.done
	if r.lead {
		b.lead(r)
	}
	return b.release(r)
}

// lead sends r's commands together with what is queued, then passes the
// pipeline slot on and wakes the requests it answered.
func (b *batcher) lead(r *batchReq) {
	b.mu.Lock()
	n := min(len(b.queue), maxBatch-1)
	batch := make([]*batchReq, 0, n+1)
	batch = append(batch, r)
	batch = append(batch, b.queue[:n]...)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	b.mu.Unlock()

	b.send(batch)

	// The slot first, so the next pipeline goes out while these wake.
	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		b.queue = b.queue[1:]
		next.lead = true
		b.mu.Unlock()
		next.done <- struct{}{}
	} else {
		b.inflight--
		b.mu.Unlock()
	}
	for _, q := range batch[1:] {
		q.done <- struct{}{}
	}
}

// release returns r to the pool, and what was read for it.
func (b *batcher) release(r *batchReq) (string, error) {
	val, err := r.val, r.err
	*r = batchReq{done: r.done}
	batchReqPool.Put(r)
	return val, err
}

// send runs the batch as one pipeline (a single command when alone),
// leaving out the requests whose context is done. Not a request's context:
// the pipeline serves other requests too. It is bounded by the client's
// read and write timeouts.
func (b *batcher) send(all []*batchReq) {
	ctx := context.Background()
	batch := make([]*batchReq, 0, len(all))
	var keys int
	for _, r := range all {
		if r.err = r.ctx.Err(); r.err == nil {
			batch = append(batch, r)
			keys += min(len(r.key), 1)
		}
	}
	var mget *redis.StringSliceCmd
	reads := make([]*redis.StringCmd, 0, len(batch)) // without the MGET: a GETRANGE each
	cmds := make([]redis.Cmder, 0, len(batch)+1)
	if b.mget && keys > 1 {
		args := make([]any, 1, keys+1)
		args[0] = "mget"
		for _, r := range batch {
			if r.key != "" {
				args = append(args, r.key)
			}
		}
		mget = redis.NewStringSliceCmd(ctx, args...)
		cmds = append(cmds, mget)
	} else {
		for _, r := range batch {
			if r.key != "" {
				reads = append(reads, getRangeCmd(ctx, r.key, r.n))
				cmds = append(cmds, reads[len(reads)-1])
			}
		}
	}
	for _, r := range batch {
		cmds = append(cmds, r.cmds...)
	}
	switch len(cmds) {
	case 0: // every request of the batch gave up
		return
	case 1:
		_ = b.rdb.Process(ctx, cmds[0])
	default:
		pipe := b.rdb.Pipeline()
		for _, c := range cmds {
			_ = pipe.Process(ctx, c)
		}
		_, _ = pipe.Exec(ctx) // each command holds its own answer or error
	}

	var vals []string
	var err error
	if mget != nil {
		if vals, err = mget.Result(); err == nil && len(vals) != keys {
			err = errors.New("redis: MGET answered " + strconv.Itoa(len(vals)) + " values for " + strconv.Itoa(keys) + " keys")
		}
	}
	i := 0
	for _, r := range batch {
		switch {
		case r.key == "":
			continue
		case mget == nil:
			r.val, r.err = reads[i].Result()
			if r.err != nil && strings.HasPrefix(r.err.Error(), "WRONGTYPE") {
				r.val, r.err = "", nil // no string there, as MGET reads it
			}
		case err != nil:
			r.err = err
		default:
			r.val = vals[i][:min(r.n, len(vals[i]))]
		}
		i++
	}
}

// getRange reads the first n bytes of the value at key, batched ("" when
// there is none).
func (b *batcher) getRange(ctx context.Context, key string, n int) (string, error) {
	return b.do(ctx, key, n)
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
	if _, err := b.do(ctx, "", 0, cmders...); err != nil {
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
