package initialize

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testLimits are short, so that each row waits well under a second, and
// differ, so that a row fails when the wrong limit is kept.
var testLimits = connLimits{header: 200 * time.Millisecond, active: 400 * time.Millisecond,
	idle: 1500 * time.Millisecond, tick: 50 * time.Millisecond}

// watching is how many connections the watchdog holds.
func (w *watchdog) watching() int {
	n := 0
	w.conns.Range(func(any, any) bool { n++; return true })
	return n
}

// watched serves h on a loopback port with the watchdog, as Serve does.
func watched(t *testing.T, h http.Handler) (string, *watchdog) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wd := startWatchdog(testLimits)
	srv := &http.Server{Handler: wd.handler(h), ConnContext: wd.connContext, ConnState: wd.connState} //nolint:gosec // the watchdog is the limit under test
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); wd.close() })
	return l.Addr().String(), wd
}

// closedWithin reads c until the server ends it and returns how long after
// start that was; it fails if c is still open after max.
func closedWithin(t *testing.T, c net.Conn, start time.Time, maxWait time.Duration) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(start.Add(maxWait))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("still open after %v", maxWait)
	}
	return time.Since(start)
}

func TestWatchdogCutsSlowClients(t *testing.T) {
	t.Parallel()
	handlerDone := make(chan error, 1)
	addr, _ := watched(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow": // runs until its connection is gone
			select {
			case <-r.Context().Done():
				handlerDone <- r.Context().Err()
			case <-time.After(5 * time.Second):
				handlerDone <- errors.New("the request outlived its connection's limit")
			}
		case "/body":
			_, err := io.ReadAll(r.Body)
			handlerDone <- err
		case "/unread": // answers at once; net/http then reads the body away
			_, _ = io.WriteString(w, "ok")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	for _, tc := range []struct {
		name string
		send string // written at once after connecting
		ok   bool   // a full answer comes first
		min  time.Duration
		max  time.Duration // when set: closed by then (idle + header is far later)
		// handler: the request ran, and must end because its connection did
		handler bool
	}{
		{name: "a header left unfinished after connecting is cut after header", send: "GET / HTTP/1.1\r\nHost: x\r\n",
			min: testLimits.header},
		{name: "a connection that sends nothing is cut after header", min: testLimits.header},
		{name: "an idle keep-alive connection is closed after idle and header", send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			ok: true, min: testLimits.idle + testLimits.header},
		{name: "a request running past active loses its connection", send: "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
			min: testLimits.active, handler: true},
		{name: "a body left unfinished is cut after active",
			send: "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part", min: testLimits.active,
			max: testLimits.active + testLimits.idle/2, handler: true},
		{name: "a body left unfinished that the handler did not read is cut after active",
			send: "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a part", min: testLimits.active,
			max: testLimits.active + testLimits.idle/2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			start := time.Now()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				_ = c.SetReadDeadline(start.Add(2 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("first request: %v %v", resp, err)
				}
				_ = resp.Body.Close()
				start = time.Now()
			}
			took := closedWithin(t, c, start, 3*time.Second)
			if took < tc.min {
				t.Errorf("closed after %v, before its limit %v", took, tc.min)
			}
			if tc.max > 0 && took > tc.max {
				t.Errorf("closed after %v, want by %v", took, tc.max)
			}
			if tc.handler {
				select {
				case err := <-handlerDone:
					if err == nil {
						t.Error("the handler finished as if its request were whole")
					}
				case <-time.After(3 * time.Second):
					t.Error("the handler still runs")
				}
			}
		})
	}
}

// TestWatchdogLeavesBusyConnections: a connection that keeps asking for
// longer than every limit together is never cut, and a closed connection
// is forgotten.
func TestWatchdogLeavesBusyConnections(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	addr, wd := watched(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	limitsTogether := testLimits.header + testLimits.active + testLimits.idle + 2*testLimits.tick
	for start := time.Now(); time.Since(start) < limitsTogether; {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatalf("after %d requests: %v", served.Load(), err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %d requests: %v", served.Load(), err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.EqualFold(string(b), "ok") {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
		time.Sleep(testLimits.tick) // idle for a while, but under idle
	}
	if wd.watching() != 1 {
		t.Errorf("watching %d connections, want 1", wd.watching())
	}
	_ = c.Close()
	// Before its idle limit could end it: forgotten because it closed.
	deadline := time.Now().Add(testLimits.idle)
	for wd.watching() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := wd.watching(); n != 0 {
		t.Errorf("still watching %d connections after the client closed", n)
	}
}

// countConn is a connection that only counts its closes.
type countConn struct {
	net.Conn
	closes atomic.Int32
}

func (c *countConn) Close() error { c.closes.Add(1); return nil }

// TestWatchdogServesNothingOnAClaimedConnection: a sweep claims an overdue
// connection before it closes it, and a request that starts on it then is
// not served (its connection ends without an answer); a request that
// moved its deadline first keeps its connection.
func TestWatchdogServesNothingOnAClaimedConnection(t *testing.T) {
	t.Parallel()
	w := &watchdog{limits: testLimits, start: time.Now()} // swept by hand
	late, onTime := &countConn{}, &countConn{}
	lateCtx := w.connContext(t.Context(), late)
	onTimeCtx := w.connContext(t.Context(), onTime)
	served := 0
	h := w.handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(onTimeCtx, http.MethodGet, "/", nil))
	w.sweep(w.now() + int64(testLimits.header+testLimits.tick)) // past the header limit, not the active one
	if late.closes.Load() != 1 || onTime.closes.Load() != 0 {
		t.Fatalf("closes: late %d, on time %d; want 1 and 0", late.closes.Load(), onTime.closes.Load())
	}
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler { //nolint:errorlint // net/http compares it so
				t.Errorf("a request on the claimed connection: recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(lateCtx, http.MethodGet, "/", nil))
	}()
	if served != 1 {
		t.Errorf("served %d requests, want 1 (the one on time)", served)
	}
	w.sweep(w.now() + int64(time.Hour))
	if late.closes.Load() != 1 || onTime.closes.Load() != 1 || w.watching() != 0 {
		t.Errorf("after a late sweep: closes %d and %d, watching %d; want 1, 1, 0",
			late.closes.Load(), onTime.closes.Load(), w.watching())
	}
}
