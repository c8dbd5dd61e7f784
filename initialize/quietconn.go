package initialize

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Quiet connections: net/http's background read left out while a request
// that only reads is handled.
//
// Before it calls a handler, net/http starts a goroutine that reads one
// byte of the connection (after the body, when there is one), to cancel the
// request's context if the client goes away. When the handler waits (a
// private request waits for Redis), that goroutine runs: a read system call
// that finds nothing, a sleep in the network poller; when the handler
// returns, net/http sets a deadline in the past to wake it, and the handler
// sleeps until it has. On welcome that was about 4 µs of the service's 32-36
// per request (docs/BENCHMARKS.md, round 6).
//
// The routes that only read (welcome, me, sessions, /auth/verify: the
// ones a front end or a proxy calls on every page) mark their request quiet
// first thing (quietRoute, routers.Deps.Quiet). From then until net/http is
// done with the request, that one-byte read returns at once with nothing
// read (io.Reader's "nothing happened"): the goroutine ends without a
// system call and the handler without a wait. Such a request is no longer
// canceled when its client goes away, or when the watchdog closes its
// connection: it runs to its end (each Redis call bounded by the client's
// timeouts) and its answer is dropped. For a request that only reads,
// that loses nothing. Every other route keeps net/http's watch: a refresh
// whose client left is not rotated once it is canceled (a retry with the
// same token then still works), a login not hashed.
//
// The mark is made after net/http has started the goroutine; one that runs
// before it (another processor idle, as on a quiet instance) reads as
// before. Under load it runs once the handler waits.
//
// Only a one-byte read is answered so: net/http reads requests and bodies
// through its buffered reader (4 KiB reads), and only its background read
// asks for one byte.

// quietListener hands out quiet connections.
type quietListener struct {
	net.Listener
	once  sync.Once
	first func() // run as the first Accept starts
}

func (l *quietListener) Accept() (net.Conn, error) {
	if l.first != nil {
		l.once.Do(l.first)
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &quietConn{Conn: c}, nil
}

// quietConn is a connection whose background read can be left out.
type quietConn struct {
	net.Conn
	quiet atomic.Bool // a request that only reads is being handled
}

func (c *quietConn) Read(p []byte) (int, error) {
	if len(p) == 1 && c.quiet.Load() {
		return 0, nil
	}
	return c.Conn.Read(p)
}

// quietState (part of http.Server.ConnState) ends a quiet request when
// net/http is done with it.
func quietState(c net.Conn, s http.ConnState) {
	if q, ok := c.(*quietConn); ok && s != http.StateActive {
		q.quiet.Store(false)
	}
}

// quietKey is the context key of a request's quietConn.
type quietKey struct{}

// quietContext (part of http.Server.ConnContext) lets quietRoute find the
// quietConn c.
func quietContext(ctx context.Context, c net.Conn) context.Context {
	if q, ok := c.(*quietConn); ok {
		return context.WithValue(ctx, quietKey{}, q)
	}
	return ctx
}

// quietRoute marks the request of a route that only reads quiet. Off the
// quiet listener (tests through httptest, the metrics listener) it does
// nothing.
func quietRoute(c *gin.Context) {
	if q, _ := c.Request.Context().Value(quietKey{}).(*quietConn); q != nil {
		q.quiet.Store(true)
	}
}

// quietEndless makes the endless server's listener quiet. endless serves
// srv.EndlessListener, and reads it again only to hand its socket to a new
// process (SIGHUP: it must then be endless's own type) or to close it
// (SIGTERM, SIGINT), on its signal goroutine. So the quiet listener is put
// there just before endless serves it (BeforeBegin, on the goroutine that
// then serves it), and endless's own is put back as the first Accept starts
// on that same goroutine, once endless has taken the quiet one. The signal
// hooks that run before endless's wait for that (settled): they never
// write the field, and the channel orders its last write before endless's
// reads.
type quietEndless struct {
	get     func() net.Listener
	set     func(net.Listener)
	settled chan struct{} // closed once endless's own listener is back
}

func newQuietEndless(get func() net.Listener, set func(net.Listener)) *quietEndless {
	return &quietEndless{get: get, set: set, settled: make(chan struct{})}
}

// wrap puts a quiet listener in place of endless's own.
func (q *quietEndless) wrap() {
	own := q.get()
	q.set(&quietListener{Listener: own, first: func() {
		q.set(own)
		close(q.settled)
	}})
}

// settle waits until endless's own listener is back, or for at most wait
// (a signal before the server started serving: endless's own is then still
// there, or the server never serves).
func (q *quietEndless) settle(wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.settled:
	case <-t.C:
	}
}
