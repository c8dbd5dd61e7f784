package initialize

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Quiet connections: net/http's background read left out while a request
// without a body is being handled.
//
// Before it calls a handler, net/http starts a goroutine that reads one
// byte of the connection (after the body, when there is one), to cancel the
// request's context if the client goes away. When the handler waits (a
// private request waits for Redis), that goroutine runs: a read system call
// that finds nothing, a sleep in the network poller; when the handler
// returns, net/http sets a deadline in the past to wake it, and the handler
// sleeps until it has. On welcome that was about 3 µs of the service's 30
// per request, more than the rest of the token check beside Redis itself
// (docs/BENCHMARKS.md, round 6).
//
// Here, from a request's header until net/http is done with it, that
// one-byte read returns at once with nothing read (io.Reader's "nothing
// happened"), so the goroutine ends without a system call and the handler
// without a wait; unless the request has a body. Nothing is lost for the service's bodyless requests: they are short
// (each Redis call bounded by the client's timeouts), and a client that goes
// away merely has its answer dropped. What is given up for them is the
// cancellation of the request's context when its client goes away or the
// watchdog closes the connection: such a handler runs to its end instead.
// A request with a body (a login, whose password hash is worth not
// computing for a client that left) keeps net/http's watch; so do the
// metrics and pprof listeners, which are not quiet.
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
	quiet atomic.Bool // a bodyless request's handler is running
}

func (c *quietConn) Read(p []byte) (int, error) {
	if len(p) == 1 && c.quiet.Load() {
		return 0, nil
	}
	return c.Conn.Read(p)
}

// quietState (part of http.Server.ConnState) makes a connection quiet as
// its request's header is read, before net/http starts the background
// read, and ends that when net/http is done with the request.
func quietState(c net.Conn, s http.ConnState) {
	if q, ok := c.(*quietConn); ok {
		switch s {
		case http.StateActive:
			q.quiet.Store(true)
		case http.StateIdle:
			q.quiet.Store(false)
		}
	}
}

// quietKey is the context key of a request's quietConn.
type quietKey struct{}

// quietContext (part of http.Server.ConnContext) lets the handler find the
// quietConn c.
func quietContext(ctx context.Context, c net.Conn) context.Context {
	if q, ok := c.(*quietConn); ok {
		return context.WithValue(ctx, quietKey{}, q)
	}
	return ctx
}

// quietHandler gives a request with a body back net/http's watch before h
// reads it (net/http starts that background read once the body is read).
func quietHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody {
			if q, _ := r.Context().Value(quietKey{}).(*quietConn); q != nil {
				q.quiet.Store(false)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// quietEndless makes the endless server's listener quiet. endless serves
// srv.EndlessListener, and reads it again only to hand its socket to a new
// process (SIGHUP: it must then be endless's own type) or to close it. So
// the quiet listener is put there just before endless serves it (from
// BeforeBegin), and endless's own is put back as the first Accept starts,
// once endless has taken the quiet one. unwrap, from the signal hooks that
// run before endless's, puts it back too, should a signal come first; the
// mutex orders these writes before endless's reads.
type quietEndless struct {
	mu  sync.Mutex
	get func() net.Listener
	set func(net.Listener)
}

// wrap puts a quiet listener in place of the current one.
func (q *quietEndless) wrap() {
	q.mu.Lock()
	defer q.mu.Unlock()
	own := q.get()
	q.set(&quietListener{Listener: own, first: q.unwrap})
}

// unwrap puts endless's own listener back.
func (q *quietEndless) unwrap() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l, ok := q.get().(*quietListener); ok {
		q.set(l.Listener)
	}
}
