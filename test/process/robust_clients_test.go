package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// Slow and abusive clients, spoken to in raw HTTP/1.1 over TCP so that the
// test, not a client library, decides what is sent and when. The server
// limits under test are in initialize/server.go (a request's header within
// 5s, kept by the connection watchdog of watchdog.go; MaxHeaderBytes 16 KiB)
// and routers/routers.go (bodies up to 8 KiB).

// rawAnswer is what a raw connection got back.
type rawAnswer struct {
	resp *http.Response
	body string
	err  error
	at   time.Time
	sent int64 // bytes the writer had written when the answer came
}

// pushUntilAnswered writes head and then the pieces next returns (nil: no
// more), pace apart, until the server answers or closes the connection;
// then it stops writing. It returns the answer (or the error that ended the
// read, within 5s) and the bytes written in all.
func pushUntilAnswered(t *testing.T, addr, head string, next func() []byte, pace time.Duration) (rawAnswer, int64) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	var sent atomic.Int64
	answered := make(chan rawAnswer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		a := rawAnswer{resp: resp, err: err, at: time.Now(), sent: sent.Load()}
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			a.body = string(b)
		}
		answered <- a
	}()

	write := func(b []byte) bool {
		// Counted before the write: an answer that comes while it is under
		// way counts it as sent.
		sent.Add(int64(len(b)))
		n, err := conn.Write(b)
		sent.Add(int64(n - len(b)))
		return err == nil
	}
	if write([]byte(head)) {
		for piece := next(); piece != nil; piece = next() {
			select {
			case a := <-answered:
				return a, sent.Load()
			default:
			}
			if !write(piece) {
				break // the server closed: its answer, if any, is on its way
			}
			time.Sleep(pace)
		}
	}
	return <-answered, sent.Load()
}

// pieces returns a next function for pushUntilAnswered: first, then n
// copies of piece, then last.
func pieces(first string, piece []byte, n int, last string) func() []byte {
	i := -1
	return func() []byte {
		i++
		switch {
		case i == 0:
			return []byte(first)
		case i <= n:
			return piece
		case i == n+1 && last != "":
			return []byte(last)
		}
		return nil
	}
}

// TestSlowlorisIsCutOff sends a request header one byte a second: the
// server must close the connection once the header limit (5s) has passed,
// long before the header (a minute's worth of bytes) is complete.
func TestSlowlorisIsCutOff(t *testing.T) {
	t.Parallel()
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	req := "GET /public/ping HTTP/1.1\r\nHost: " + s.addr + "\r\nX-Slow: " + strings.Repeat("a", 20) + "\r\n\r\n"

	conn, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(15 * time.Second))
	type ending struct {
		at  time.Time
		got string
		err error
	}
	ended := make(chan ending, 1)
	go func() {
		b, err := io.ReadAll(conn) // returns when the server closes (nil error on EOF)
		ended <- ending{time.Now(), string(b), err}
	}()

	sent := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var end ending
wait:
	for {
		if sent < len(req) {
			if _, err := conn.Write([]byte{req[sent]}); err == nil {
				sent++
			}
		}
		select {
		case end = <-ended:
			break wait
		case <-tick.C:
		}
	}
	took := end.at.Sub(start)
	t.Logf("connection closed by the server %v after it opened, %d of the header's %d bytes sent (read: %q, %v)",
		took.Round(time.Millisecond), sent, len(req), end.got, end.err)
	var ne net.Error
	switch {
	case errors.As(end.err, &ne) && ne.Timeout():
		t.Fatalf("the connection was still open after %v", took.Round(time.Millisecond))
	case end.err != nil && !errors.Is(end.err, syscall.ECONNRESET):
		t.Fatalf("reading: %v", end.err)
	}
	if took > 7*time.Second {
		t.Errorf("closed %v after it opened, want within ~7s (header limit 5s, kept within a second)", took.Round(time.Millisecond))
	}
	if sent >= len(req) {
		t.Errorf("the whole header was sent (%d bytes) before the server closed: not cut off by the header timeout", sent)
	}
	if strings.HasPrefix(end.got, "HTTP/1.1 200") {
		t.Errorf("the slow request was served: %q", end.got)
	}
}

// TestHugeHeaderGets431 sends a request with a 1 MB header: 431, without
// the server reading all of it.
func TestHugeHeaderGets431(t *testing.T) {
	t.Parallel()
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	const size = 1 << 20
	piece := []byte(strings.Repeat("a", 64<<10))
	head := "GET /public/ping HTTP/1.1\r\nHost: " + s.addr + "\r\n"
	start := time.Now()
	a, sent := pushUntilAnswered(t, s.addr, head, pieces("X-Big: ", piece, size/len(piece), "\r\n\r\n"), time.Millisecond)
	if a.err != nil {
		t.Fatalf("no answer to a 1 MB header (%d bytes sent): %v", sent, a.err)
	}
	t.Logf("answer %d %q %v after the start, %d bytes sent by then", a.resp.StatusCode, a.body, a.at.Sub(start).Round(time.Millisecond), a.sent)
	if a.resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 1 MB header: %s, want 431", a.resp.Status)
	}
	if a.at.Sub(start) > 5*time.Second {
		t.Errorf("the answer took %v", a.at.Sub(start))
	}
	// The connection is not served on.
	if !a.resp.Close {
		t.Error("the 431 does not close the connection")
	}
}

// TestHugeBodyRefused starts a login whose body is announced as 10 MB
// (Content-Length: 10485760), and one sent chunked with no length, and sends
// only the first 64 KiB of each, then waits: the answer, 413, must come
// promptly without the rest (a server that wanted the whole body, or even
// the next few hundred KiB, would wait for bytes that never come), and the
// server must close the connection rather than read on.
func TestHugeBodyRefused(t *testing.T) {
	t.Parallel()
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	const (
		size      = 10 << 20
		pieceSize = 64 << 10
	)
	filler := []byte(strings.Repeat("a", pieceSize))
	chunk := append([]byte(fmt.Sprintf("%x\r\n", pieceSize)), append(filler, "\r\n"...)...)
	form, jsonBody := "username=u&password=", `{"username":"u","password":"a`
	tests := []struct {
		name string
		head string
		next func() []byte
	}{
		{"declared 10 MB form", "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + fmt.Sprint(size) + "\r\n",
			pieces(form, filler, 1, "")},
		{"chunked form", "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n",
			pieces(fmt.Sprintf("%x\r\n%s\r\n", len(form), form), chunk, 1, "")},
		{"chunked JSON", "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
			pieces(fmt.Sprintf("%x\r\n%s\r\n", len(jsonBody), jsonBody), chunk, 1, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := "POST /public/login HTTP/1.1\r\nHost: " + s.addr + "\r\n" + tc.head + "\r\n"
			start := time.Now()
			a, sent := pushUntilAnswered(t, s.addr, head, tc.next, 0)
			if a.err != nil {
				t.Fatalf("no answer after %v with %d bytes sent, and no more coming: %v (the server waits for more of the body)",
					time.Since(start).Round(time.Millisecond), sent, a.err)
			}
			took := a.at.Sub(start)
			t.Logf("%d %s after %v; %d bytes sent by then, %d in all (of a body of %d)",
				a.resp.StatusCode, a.body, took.Round(time.Millisecond), a.sent, sent, size)
			var body struct {
				Error string `json:"error"`
			}
			if a.resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(a.body), &body) != nil || body.Error != "invalid_request" {
				t.Errorf("answer %s %q, want 413 invalid_request", a.resp.Status, a.body)
			}
			if took > 2*time.Second {
				t.Errorf("the answer took %v, want it promptly", took)
			}
			if !a.resp.Close {
				t.Error("the connection is kept open: the server would have to read the rest of the body")
			}
		})
	}
}

// idleConns is how many idle keep-alive connections
// TestIdleConnectionsDoNotBlockLogin holds open.
const idleConns = 1000

// TestIdleConnectionsDoNotBlockLogin opens 1,000 keep-alive connections
// that each made one request and then sit idle: a new client must still log
// in and call welcome promptly, and the idle connections stay served.
func TestIdleConnectionsDoNotBlockLogin(t *testing.T) {
	t.Parallel()
	// Each side holds one descriptor per connection: this process and the
	// service (which inherits the limit; Go raises its own soft limit to
	// the hard one anyway).
	need := uint64(idleConns + 200)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < need {
		t.Fatalf("RLIMIT_NOFILE hard limit %d, this test needs %d", lim.Max, need)
	}
	if lim.Cur < need {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("raising RLIMIT_NOFILE to %d: %v", lim.Cur, err)
		}
	}
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	if n := serviceNoFile(t, s.cmd.Process.Pid); n < need {
		t.Fatalf("the service may open %d files, this test needs %d", n, need)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conns := make([]*bufio.ReadWriter, idleConns)
	raw := make([]net.Conn, idleConns)
	defer func() {
		for _, c := range raw {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	ping := func(i int) error {
		_ = raw[i].SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conns[i].WriteString("GET /public/ping HTTP/1.1\r\nHost: " + s.addr + "\r\n\r\n"); err != nil {
			return err
		}
		if err := conns[i].Flush(); err != nil {
			return err
		}
		resp, err := http.ReadResponse(conns[i].Reader, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(b) != "pong" || resp.Close {
			return fmt.Errorf("ping: %s %q (close %v) %v", resp.Status, b, resp.Close, err)
		}
		return nil
	}
	// Open them 50 at a time, each with one request so that it is a
	// keep-alive connection (idle timeout 60s), not a new one (which the
	// header timeout would close after 5s).
	opened := time.Now()
	errs := make([]error, idleConns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range idleConns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				errs[i] = err
				return
			}
			raw[i] = c
			conns[i] = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
			errs[i] = ping(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("opening %d keep-alive connections: %v", idleConns, err)
	}
	t.Logf("%d keep-alive connections open and idle after %v", idleConns, time.Since(opened).Round(time.Millisecond))

	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	start := time.Now()
	p := s.login(ctx, t, c)
	s.welcome(ctx, t, c, p.Access)
	took := time.Since(start)
	t.Logf("a new client logged in and called welcome in %v", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("login and welcome took %v beside %d idle connections, want < 2s", took, idleConns)
	}

	// The idle connections were held all along: each answers again.
	for i := range idleConns {
		if err := ping(i); err != nil {
			t.Fatalf("idle connection %d after the login: %v", i, err)
		}
	}
}

// serviceNoFile is the soft open-files limit of process pid.
func serviceNoFile(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(line, "Max open files") {
			var n uint64
			if _, err := fmt.Sscan(f[3], &n); err != nil {
				return 1 << 62 // "unlimited"
			}
			return n
		}
	}
	t.Fatalf("no open-files limit in /proc/%d/limits", pid)
	return 0
}
