package initialize

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the one-byte reads that reach its connections
// (net/http's background read asks for one byte).
type countingListener struct {
	net.Listener
	ones atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, ones: &l.ones}, nil
}

type countingConn struct {
	net.Conn
	ones *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	if len(p) == 1 {
		c.ones.Add(1)
	}
	return c.Conn.Read(p)
}

// quietServer serves h as Serve does, on a quiet listener over a counting
// one.
func quietServer(t *testing.T, h http.Handler) (string, *countingListener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: l}
	srv := &http.Server{Handler: quietHandler(h), ConnContext: quietContext, ConnState: quietState,
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(&quietListener{Listener: counting}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), counting
}

// waiting answers after a pause in which net/http's background read, when
// there is one, runs (as a private request waits for Redis); it reads a
// body first, and reports whether its context ended before it answered.
func waiting(canceled chan<- bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			canceled <- true
			return
		case <-time.After(50 * time.Millisecond):
		}
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})
}

func TestQuietConnLeavesOutTheBackgroundRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		send     string   // written at once on one connection
		want     []string // the answers' bodies, in order
		wantOnes bool     // one-byte reads reach the socket
	}{
		{"a request without a body is not watched", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"GET /a "}, false},
		{"keep-alive: the next request is read and answered", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"GET /a "}, false},
		{"pipelined requests are each answered, in order",
			"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /a ", "GET /b "}, false},
		{"a request with a body keeps net/http's watch",
			"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", []string{"POST /c hi"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canceled := make(chan bool, 4)
			addr, counting := quietServer(t, waiting(canceled))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			for round := range 2 { // the same requests again on the kept-alive connection
				if _, err := io.WriteString(c, tc.send); err != nil {
					t.Fatal(err)
				}
				for _, want := range tc.want {
					resp, err := http.ReadResponse(r, nil)
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK || string(body) != want {
						t.Fatalf("round %d: %d %q, want 200 %q", round, resp.StatusCode, body, want)
					}
				}
			}
			if got := counting.ones.Load() > 0; got != tc.wantOnes {
				t.Errorf("one-byte reads of the socket: %d, want any: %v", counting.ones.Load(), tc.wantOnes)
			}
			if len(canceled) > 0 {
				t.Error("a request's context ended before its answer")
			}
		})
	}
}

func TestQuietConnStillCancelsABodysRequestWhoseClientLeft(t *testing.T) {
	t.Parallel()
	canceled := make(chan bool, 1)
	addr, _ := quietServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(3 * time.Second):
			canceled <- false
		}
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the handler is waiting
	_ = c.Close()
	if !<-canceled {
		t.Fatal("the request's context was not canceled when its client left")
	}
}

func TestQuietEndlessPutsEndlessListenerBack(t *testing.T) {
	t.Parallel()
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Close() }()
	for _, tc := range []struct {
		name    string
		restore func(q *quietEndless, served *quietListener)
	}{
		{"as the first Accept starts", func(_ *quietEndless, served *quietListener) {
			_ = own.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Millisecond))
			var ne net.Error
			if _, err := served.Accept(); !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("accept: %v, want a timeout", err)
			}
		}},
		{"when a signal comes before it", func(q *quietEndless, _ *quietListener) { q.unwrap() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			field := own // srv.EndlessListener
			q := &quietEndless{get: func() net.Listener { return field }, set: func(l net.Listener) { field = l }}
			q.wrap()
			served, ok := field.(*quietListener)
			if !ok || served.Listener != own {
				t.Fatalf("served %T, want the quiet listener over endless's own", field)
			}
			tc.restore(q, served)
			if field != own {
				t.Fatalf("after: %T, want endless's own listener back", field)
			}
			q.unwrap() // a later signal: nothing more to do
			if field != own {
				t.Fatalf("after a second unwrap: %T", field)
			}
		})
	}
}
