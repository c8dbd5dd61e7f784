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

	"github.com/gin-gonic/gin"
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

// quietServer serves, as Serve does, on a quiet listener over a counting
// one: /read is a route that only reads (quietRoute first), /write one that
// does not. Each reads the body, then waits (as a private request waits for
// Redis; net/http's background read, when there is one, starts as the body
// is read and runs meanwhile) and answers, or reports on ended that its
// context ended first.
func quietServer(t *testing.T, wait time.Duration, ended chan<- string) (string, *countingListener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: l}
	r := gin.New()
	h := func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		select {
		case <-c.Request.Context().Done():
			ended <- c.Request.URL.Path
			return
		case <-time.After(wait):
		}
		c.String(http.StatusOK, "%s %s %s", c.Request.Method, c.Request.URL.Path, body)
	}
	r.Any("/read", quietRoute, h)
	r.Any("/write", h)
	srv := &http.Server{Handler: r, ConnContext: quietContext, ConnState: quietState, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(&quietListener{Listener: counting}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), counting
}

func TestQuietRouteLeavesOutTheBackgroundRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		send     string   // written at once on one connection, twice
		want     []string // the answers' bodies, in order
		wantOnes bool     // one-byte reads reach the socket
	}{
		{"a quiet request leaves the socket alone", "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
			[]string{"POST /read hi"}, false},
		{"any other keeps net/http's watch", "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
			[]string{"POST /write hi"}, true},
		{"pipelined quiet requests are each answered, in order",
			"GET /read HTTP/1.1\r\nHost: x\r\n\r\nGET /read?b HTTP/1.1\r\nHost: x\r\n\r\nPOST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz",
			[]string{"GET /read ", "GET /read ", "POST /write z"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan string, 8)
			addr, counting := quietServer(t, 50*time.Millisecond, ended)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			for round := range 2 { // again on the kept-alive connection
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
				t.Errorf("one-byte reads of the socket: %d, want some: %v", counting.ones.Load(), tc.wantOnes)
			}
			if len(ended) > 0 {
				t.Errorf("%s: its context ended before its answer", <-ended)
			}
		})
	}
}

func TestQuietRouteWhoseClientLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		path     string
		canceled bool
	}{
		{"any other route is canceled (a login's hash is not computed)", "/write", true},
		{"a quiet route runs to its end", "/read", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan string, 1)
			addr, _ := quietServer(t, time.Second, ended)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, "POST "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the handler is waiting
			_ = c.Close()
			select {
			case <-ended:
				if !tc.canceled {
					t.Fatal("canceled when its client left")
				}
			case <-time.After(2 * time.Second):
				if tc.canceled {
					t.Fatal("not canceled when its client left")
				}
			}
		})
	}
}

func TestQuietConnAnswersOnlyTheOneByteReadOfAQuietRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		quiet bool
		state http.ConnState // reported after the mark (0: none)
		size  int
		read  bool // the read reaches the socket
	}{
		{"one byte, quiet: nothing read", true, 0, 1, false},
		{"one byte, not quiet", false, 0, 1, true},
		{"a buffer's read, quiet", true, 0, 4096, true},
		{"one byte once net/http is done with the request", true, http.StateIdle, 1, true},
		{"one byte of a hijacked connection", true, http.StateHijacked, 1, true},
		{"one byte while the request goes on", true, http.StateActive, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server, client := net.Pipe()
			defer func() { _ = server.Close(); _ = client.Close() }()
			q := &quietConn{Conn: server}
			q.quiet.Store(tc.quiet)
			if tc.state != 0 {
				quietState(q, tc.state)
			}
			go func() { _, _ = client.Write([]byte("x")) }()
			_ = server.SetReadDeadline(time.Now().Add(time.Second))
			n, err := q.Read(make([]byte, tc.size))
			if got := n == 1 && err == nil; got != tc.read {
				t.Fatalf("read %d, %v; want it to reach the socket: %v", n, err, tc.read)
			}
			if !tc.read && (n != 0 || err != nil) {
				t.Fatalf("read %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestQuietEndlessPutsEndlessListenerBack(t *testing.T) {
	t.Parallel()
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Close() }()
	field := own // srv.EndlessListener
	q := newQuietEndless(func() net.Listener { return field }, func(l net.Listener) { field = l })
	start := time.Now()
	q.settle(50 * time.Millisecond) // a signal before serving: nothing to wait for but the time
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("settled after %v before anything was served", waited)
	}
	q.wrap()
	served, ok := field.(*quietListener)
	if !ok || served.Listener != own {
		t.Fatalf("served %T, want the quiet listener over endless's own", field)
	}
	_ = own.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Millisecond))
	var ne net.Error
	if _, err := served.Accept(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("accept: %v, want a timeout", err)
	}
	if field != own {
		t.Fatalf("after the first Accept: %T, want endless's own listener back", field)
	}
	select {
	case <-q.settled:
	default:
		t.Fatal("not settled after the first Accept")
	}
	if _, err := served.Accept(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("second accept: %v", err)
	}
}
