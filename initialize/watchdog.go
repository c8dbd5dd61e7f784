package initialize

import (
	"context"
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
// connection's deadline in a number that its requests move (two atomic
// stores a request: the number rides in the connection's context, found
// without a lookup), and twice a second closes the connections past theirs.
// A limit is thus kept within a second of its value, never before it.
//
// What each part of a connection's life may last:
//
//	accepted          header: the first request's header must be complete
//	serving           active: from a request's complete header until its
//	                  handler returns, its body's reading included (what
//	                  the handler wrote is then at most a buffer, 4 KiB)
//	between requests  idle + header: the next request's header must be
//	                  complete by then
//
// A slow client is cut off as before: one that trickles a header after
// connecting loses its connection after header, one that trickles a body,
// or does not read an answer that fills the socket's buffers while a
// handler writes, after active; a connection left idle is closed after idle
// (plus header, which net/http also grants once a request's first byte
// arrives). What net/http sends after the handler (its last buffer) is
// bounded by idle + header: a client that sends requests without reading
// their answers holds its connection that long at most.
type connLimits struct {
	header, active, idle time.Duration
	tick                 time.Duration // how often the watchdog looks
}

// watchdog closes the connections that outlast their limits (connLimits).
type watchdog struct {
	limits connLimits
	conns  sync.Map // net.Conn → *atomic.Int64, its deadline in unix ns
	stop   chan struct{}
	done   chan struct{}
}

// startWatchdog starts watching; close ends it. A server it watches has its
// connContext, connState and handler (server.go).
func startWatchdog(l connLimits) *watchdog {
	w := &watchdog{limits: l, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// deadlineKey is the context key of a connection's deadline.
type deadlineKey struct{}

// at is a deadline limit from now.
func (w *watchdog) at(limit time.Duration) int64 {
	return time.Now().UnixNano() + int64(limit)
}

// connContext (http.Server.ConnContext) starts watching the accepted c.
func (w *watchdog) connContext(ctx context.Context, c net.Conn) context.Context {
	d := new(atomic.Int64)
	d.Store(w.at(w.limits.header))
	w.conns.Store(c, d)
	return context.WithValue(ctx, deadlineKey{}, d)
}

// connState (http.Server.ConnState) forgets a connection that is gone, or
// no longer the server's.
func (w *watchdog) connState(c net.Conn, s http.ConnState) {
	if s == http.StateHijacked || s == http.StateClosed {
		w.conns.Delete(c)
	}
}

// handler moves the connection's deadline as h serves a request on it.
func (w *watchdog) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		d, _ := r.Context().Value(deadlineKey{}).(*atomic.Int64)
		if d == nil { // a connection the watchdog was not told of
			h.ServeHTTP(rw, r)
			return
		}
		d.Store(w.at(w.limits.active))
		h.ServeHTTP(rw, r)
		d.Store(w.at(w.limits.idle + w.limits.header))
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
		case now := <-t.C:
			w.sweep(now.UnixNano())
		}
	}
}

// sweep closes the connections whose deadline is before now. net/http
// sees the closed connection fail its next read or write, and ends it.
func (w *watchdog) sweep(now int64) {
	w.conns.Range(func(k, v any) bool {
		if v.(*atomic.Int64).Load() < now {
			w.conns.Delete(k)
			_ = k.(net.Conn).Close()
		}
		return true
	})
}

// watching is how many connections the watchdog holds.
func (w *watchdog) watching() int {
	n := 0
	w.conns.Range(func(any, any) bool { n++; return true })
	return n
}

// close stops the watchdog; the connections it held are left as they are.
func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}
