package initialize

import (
	"context"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The connection time limits, kept by a watchdog instead of net/http's
// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout. Those set
// a socket deadline four times a request (each a timer moved in the
// runtime): about 1 µs of the 20 that a whole request costs the server
// here, the largest single cost the service's ping paid beyond bare gin's
// (docs/BENCHMARKS.md, round 5). The watchdog instead keeps each
// connection's deadline in a number that its requests move (its handler
// finds it in the connection's context; net/http's report that the
// connection went idle, in a map), and twice a second closes the
// connections past theirs. A limit is thus kept within a second of its
// value, never before it (on the monotonic clock: a step of the wall clock
// moves no deadline).
//
// What each part of a connection's life may last:
//
//	accepted          header: the first request's header must be complete
//	serving           active: from a request's complete header until
//	                  net/http is done with it (reading its body, or what
//	                  is left of it, and sending its answer)
//	between requests  idle + header: the next request's header must be
//	                  complete by then
//
// A slow client is cut off as before: one that trickles a header after
// connecting loses its connection after header, one that trickles a body
// or does not read its answers after active; a connection left idle is
// closed after idle (plus header, which net/http also grants once a
// request's first byte arrives). Every listener has a watchdog; the pprof
// listener's active limit is longer (pprofLimits, server.go): a profile or
// trace (which would stretch net/http's WriteTimeout for itself, but knows
// nothing of the watchdog) lasts as long as it was asked to.
type connLimits struct {
	header, active, idle time.Duration
	tick                 time.Duration // how often the watchdog looks
}

// watchdog closes the connections that outlast their limits (connLimits).
type watchdog struct {
	limits connLimits
	start  time.Time // deadlines are nanoseconds since it, on the monotonic clock
	conns  sync.Map  // net.Conn → *atomic.Int64, its deadline (or claimed)
	stop   chan struct{}
	done   chan struct{}
}

// claimed is the deadline of a connection the watchdog is closing: its
// requests are not served any more.
const claimed = math.MinInt64

// startWatchdog starts watching; close ends it. A server it watches has its
// connContext, connState and handler (server.go).
func startWatchdog(l connLimits) *watchdog {
	w := &watchdog{limits: l, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// deadlineKey is the context key of a connection's deadline.
type deadlineKey struct{}

func (w *watchdog) now() int64 { return int64(time.Since(w.start)) }

// move sets the deadline d to limit from now, unless the watchdog has
// claimed its connection (false then).
func (w *watchdog) move(d *atomic.Int64, limit time.Duration) bool {
	next := w.now() + int64(limit)
	for {
		old := d.Load()
		if old == claimed {
			return false
		}
		if d.CompareAndSwap(old, next) {
			return true
		}
	}
}

// connContext (http.Server.ConnContext) starts watching the accepted c.
func (w *watchdog) connContext(ctx context.Context, c net.Conn) context.Context {
	d := new(atomic.Int64)
	d.Store(w.now() + int64(w.limits.header))
	w.conns.Store(c, d)
	return context.WithValue(ctx, deadlineKey{}, d)
}

// connState (http.Server.ConnState) gives a connection that net/http is
// done with (its last answer sent) its idle limit, and forgets one that is
// gone or no longer the server's.
func (w *watchdog) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateIdle:
		if d, ok := w.conns.Load(c); ok {
			w.move(d.(*atomic.Int64), w.limits.idle+w.limits.header)
		}
	case http.StateHijacked, http.StateClosed:
		w.conns.Delete(c)
	}
}

// handler gives the connection its active limit as a request on it starts.
// A request on a connection that the watchdog has just claimed (its header
// came in as the watchdog found it late) is not served: its connection is
// closed without an answer (http.ErrAbortHandler), as it would have been a
// moment before.
func (w *watchdog) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if d, _ := r.Context().Value(deadlineKey{}).(*atomic.Int64); d != nil && !w.move(d, w.limits.active) {
			panic(http.ErrAbortHandler)
		}
		h.ServeHTTP(rw, r)
	})
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(w.limits.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.sweep(w.now())
		}
	}
}

// sweep closes the connections whose deadline is before now, claiming each
// first, so that a request that moved its deadline meanwhile keeps it.
// net/http sees a closed connection fail its next read or write, and ends
// it.
func (w *watchdog) sweep(now int64) {
	w.conns.Range(func(k, v any) bool {
		d := v.(*atomic.Int64)
		if at := d.Load(); at != claimed && at < now && d.CompareAndSwap(at, claimed) {
			w.conns.Delete(k)
			_ = k.(net.Conn).Close()
		}
		return true
	})
}

// close stops the watchdog; the connections it held are left as they are.
func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}
