package initialize

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The connection time limits, kept by a watchdog instead of net/http's
// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout. Those set
// a socket deadline four times a request (each a timer moved in the
// runtime): about 1.2 µs of the 20 that a whole request costs the server
// here, the largest single cost the service's ping pays beyond bare gin's
// (docs/BENCHMARKS.md, round 5). The watchdog instead notes each
// connection's deadline when net/http reports a change of its state (a
// map lookup and an atomic store, twice a request) and, twice a second,
// closes the connections past theirs. A limit is thus kept within a second
// of its value, never before it.
//
// What each state may last:
//
//	new (accepted)    header: the first request's header must be complete
//	active (serving)  active: from a request's complete header to the end
//	                  of its response, its body's reading included
//	idle (keep-alive) idle + header: the next request's header must be
//	                  complete by then
//
// A slow client is cut off as before: one that trickles a header after
// connecting loses its connection after header, one that trickles a body,
// or does not read its answer, after active; a connection left idle is
// closed after idle (plus header, which net/http also grants once a
// request's first byte arrives).
type connLimits struct {
	header, active, idle time.Duration
	tick                 time.Duration // how often the watchdog looks
}

// watchdog closes the connections that outlast their limits (connLimits).
type watchdog struct {
	limits connLimits
	now    atomic.Int64 // unix ns, advanced each tick: read on every state change
	conns  sync.Map     // net.Conn → *atomic.Int64, its deadline in unix ns
	stop   chan struct{}
	done   chan struct{}
}

// startWatchdog starts watching; stop ends it. Its connState goes in the
// server's ConnState.
func startWatchdog(l connLimits) *watchdog {
	w := &watchdog{limits: l, stop: make(chan struct{}), done: make(chan struct{})}
	w.now.Store(time.Now().UnixNano())
	go w.run()
	return w
}

// connState records c's deadline for its new state s. The clock it reads
// lags by up to a tick, so a tick is added: no limit is ever shortened.
func (w *watchdog) connState(c net.Conn, s http.ConnState) {
	base := w.now.Load() + int64(w.limits.tick)
	switch s {
	case http.StateNew:
		d := new(atomic.Int64)
		d.Store(base + int64(w.limits.header))
		w.conns.Store(c, d)
	case http.StateActive:
		w.set(c, base+int64(w.limits.active))
	case http.StateIdle:
		w.set(c, base+int64(w.limits.idle+w.limits.header))
	case http.StateHijacked, http.StateClosed:
		w.conns.Delete(c)
	}
}

// set moves c's deadline; a connection the watchdog has closed (or never
// saw) stays unwatched.
func (w *watchdog) set(c net.Conn, deadline int64) {
	if d, ok := w.conns.Load(c); ok {
		d.(*atomic.Int64).Store(deadline)
	}
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
	w.now.Store(now)
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
