// Package container tests the binary the way the Docker image runs it,
// without a Docker engine: as PID 1 of its own PID namespace (unshare), and
// as the static binary alone in an empty root directory under the
// distroless nonroot user (chroot). Every test is bounded in time and kills
// every process it started.
package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

const (
	pid1Clients   = 12
	pid1Restarts  = 3
	pid1Progress  = 200 // requests each server answers before the next SIGHUP
	pid1InFlight  = 4   // requests in flight when SIGTERM comes
	pid1TestBound = 50 * time.Second
)

// TestPID1RestartsInPlaceUnderLoad runs the binary as PID 1 of a new PID
// namespace, as `docker run` does, under continuous load: three SIGHUPs to
// PID 1 each replace the server without a failed request, PID 1 reaps every
// old server, tokens issued before still work after; SIGTERM to PID 1 lets
// in-flight requests finish, and then the namespace ends with status 0.
func TestPID1RestartsInPlaceUnderLoad(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		unavailable(t, "unshare is not installed: %v", err)
	}
	nsArgs := []string{"--pid", "--fork", "--mount-proc", "--kill-child"}
	if out, err := exec.Command(unshare, append(nsArgs, "true")...).CombinedOutput(); err != nil {
		unavailable(t, "unshare %s is not permitted here (needs root or CAP_SYS_ADMIN): %v: %s",
			strings.Join(nsArgs, " "), err, out)
	}
	bin := build.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), pid1TestBound)
	defer cancel()

	addr, tmp := proc.FreeAddr(t), t.TempDir()
	base := "http://" + addr
	creds := url.Values{"username": {"t" + proc.RandomHex(t, 6)}, "password": {"123"}}
	logPath := filepath.Join(t.TempDir(), "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()

	// --kill-child: if unshare ends (the cleanup kills it), PID 1 gets
	// SIGKILL, and with it every process of the namespace.
	cmd := exec.Command(unshare, append(nsArgs, bin)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + tmp, // the init's default PID_FILE goes below it
		"APP_ADDR=" + addr,
		"REDIS_ADDR=" + proc.RedisAddr(t),
		"JWT_SECRET=" + proc.RandomHex(t, 32),
		"DEMO_USER=" + creds.Get("username") + ":" + creds.Get("password"),
		"ARGON2_TIME=1", "ARGON2_MEMORY_KIB=1024", // cheap logins
		"MAX_SESSIONS=1000", "ACCESS_TTL=2m", "REFRESH_TTL=5m",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("service log (tail):\n%s", proc.TailFile(logPath, 6000))
		}
	})

	// PID 1 as the host sees it: unshare's forked child, once it runs our
	// binary.
	var initPID int
	if !proc.Poll(5*time.Second, 5*time.Millisecond, func() bool {
		for _, pid := range children(cmd.Process.Pid) {
			if runs(pid, bin) {
				initPID = pid
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no child of unshare (PID %d) runs %s", cmd.Process.Pid, bin)
	}
	if ns := nsPID(initPID); ns != "1" {
		t.Fatalf("the binary (host PID %d) is PID %q in its namespace, want 1", initPID, ns)
	}
	if err := waitPing(ctx, base); err != nil {
		t.Fatal(err)
	}
	server, err := soleServer(initPID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PID 1 is host PID %d; it serves through its child, host PID %d", initPID, server)
	if m, _ := filepath.Glob(filepath.Join(tmp, "go-jwt-*", "go-jwt.pid")); len(m) != 1 {
		t.Errorf("PID files below TMPDIR: %v, want the init's one", m)
	}

	probe := &http.Client{Timeout: 5 * time.Second}
	defer probe.CloseIdleConnections()
	early, err := login(ctx, probe, base, creds)
	if err != nil {
		t.Fatal(err)
	}

	l := &load{ctx: ctx, base: base, creds: creds}
	l.start(pid1Clients)
	defer l.finish() // on t.Fatal too: the clients stop before the cleanup kills the service
	l.waitProgress(t, pid1Progress)
	for i := 1; i <= pid1Restarts; i++ {
		sent := time.Now()
		if err := syscall.Kill(initPID, syscall.SIGHUP); err != nil {
			t.Fatalf("SIGHUP #%d to PID 1: %v", i, err)
		}
		// Done when the old server has ended and PID 1 has reaped it, and
		// one new server is left, now PID 1's own child.
		var next int
		if !proc.Poll(10*time.Second, 5*time.Millisecond, func() bool {
			next, err = soleServer(initPID)
			return err == nil && next != server && gone(server)
		}) {
			t.Fatalf("restart #%d: the server is still host PID %d (gone: %v; now %v, %v)",
				i, server, gone(server), next, err)
		}
		t.Logf("restart #%d: server host PID %d → %d in %v", i, server, next, time.Since(sent).Round(time.Millisecond))
		server = next
		l.waitProgress(t, pid1Progress)
	}
	l.finish()
	t.Logf("load: %d requests answered as expected, %d failed", l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed during the restarts; the first ones:\n%s", n, strings.Join(l.firstFailures(), "\n"))
	}

	a, err := proc.Call(ctx, probe, http.MethodGet, base+"/user/welcome", early.Access, nil)
	if want := "Welcome ! " + creds.Get("username"); err != nil || a.Status != http.StatusOK || a.Body != want {
		t.Errorf("welcome with the access token from before the restarts: %v %v, want 200 %q", a, err, want)
	}
	if _, err := pairFrom(proc.Call(ctx, probe, http.MethodGet, base+"/public/refresh", early.Refresh, nil)); err != nil {
		t.Errorf("refresh with the refresh token from before the restarts: %v", err)
	}
	probe.CloseIdleConnections()

	// SIGTERM while requests are in flight: each has sent its headers with
	// Expect: 100-continue, and the 100 Continue proves its handler is
	// running (it is reading the body). The body follows only after SIGTERM.
	body := creds.Encode()
	inflight := make([]*bufio.ReadWriter, pid1InFlight)
	for i := range inflight {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		rw := bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
		_, _ = fmt.Fprintf(rw, "POST /public/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
		if err := rw.Flush(); err != nil {
			t.Fatal(err)
		}
		if status, err := readStatus(rw.Reader); err != nil || status != http.StatusContinue {
			t.Fatalf("in-flight login %d: %d %v, want 100 Continue", i, status, err)
		}
		inflight[i] = rw
	}
	sigAt := time.Now()
	if err := syscall.Kill(initPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !proc.Poll(5*time.Second, 5*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}) {
		t.Fatal("the server still accepts connections 5s after SIGTERM")
	}
	for i, rw := range inflight {
		_, _ = rw.WriteString(body)
		if err := rw.Flush(); err != nil {
			t.Errorf("in-flight login %d: sending the body after SIGTERM: %v", i, err)
			continue
		}
		resp, err := http.ReadResponse(rw.Reader, nil)
		if err != nil {
			t.Errorf("in-flight login %d: %v", i, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if _, err := pairFrom(proc.Answer{Status: resp.StatusCode, Body: string(b)}, err); err != nil {
			t.Errorf("in-flight login %d, answered after SIGTERM: %v", i, err)
		}
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("unshare (the namespace) ended with %v, want exit status 0", waitErr)
		}
		t.Logf("the namespace ended %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("the namespace still runs 10s after SIGTERM and its requests (processes: %v)", descendants(cmd.Process.Pid))
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR after exit: %v, want nothing (the init removes its PID file directory)", left)
	}
}

// runs tells whether pid runs the binary at path.
func runs(pid int, path string) bool {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	b, err2 := os.Stat(path)
	return err == nil && err2 == nil && os.SameFile(a, b)
}

// nsPID is pid's PID in its own (innermost) namespace, from the NSpid line
// of /proc/<pid>/status.
func nsPID(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" {
			return f[len(f)-1]
		}
	}
	return ""
}

// soleServer returns the one process below PID 1, when there is exactly one
// and PID 1 has reaped every other (no zombie left).
func soleServer(initPID int) (int, error) {
	procs := descendants(initPID)
	if len(procs) != 1 || procs[0].state == 'Z' {
		return 0, fmt.Errorf("processes below PID 1: %v, want one running server", procs)
	}
	return procs[0].pid, nil
}

// readStatus reads an interim response's status line and headers.
func readStatus(r *bufio.Reader) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	var proto string
	var status int
	if _, err := fmt.Sscanf(line, "%s %d", &proto, &status); err != nil {
		return 0, fmt.Errorf("status line %q: %v", line, err)
	}
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if h == "\r\n" {
			return status, nil
		}
	}
}

// pairFrom checks that a is 200 with a token pair.
func pairFrom(a proc.Answer, err error) (proc.Pair, error) {
	if err != nil {
		return proc.Pair{}, err
	}
	var p proc.Pair
	if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &p) != nil || p.Access == "" || p.Refresh == "" {
		return proc.Pair{}, fmt.Errorf("got %v, want 200 with a token pair", a)
	}
	return p, nil
}

// load is a set of clients that log in, call a private route, ping and log
// out in a loop until finish, each on its own keep-alive connections, with
// no retry of their own.
type load struct {
	ctx    context.Context
	base   string
	creds  url.Values
	stop   atomic.Bool
	wg     sync.WaitGroup
	once   sync.Once
	ok     atomic.Int64
	failed atomic.Int64

	mu       sync.Mutex
	failures []string
}

func (l *load) start(n int) {
	for id := range n {
		l.wg.Add(1)
		go l.client(id)
	}
}

// finish stops the clients after their current request and waits for them
// (bounded: every request times out after 5s).
func (l *load) finish() {
	l.once.Do(func() {
		l.stop.Store(true)
		l.wg.Wait()
	})
}

func (l *load) firstFailures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

// waitProgress waits (bounded) until n more requests have succeeded.
func (l *load) waitProgress(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	if !proc.Poll(15*time.Second, 5*time.Millisecond, func() bool { return l.ok.Load() >= target || l.ctx.Err() != nil }) || l.ctx.Err() != nil {
		t.Fatalf("load made no progress: %d of %d requests (%d failed)", l.ok.Load(), target, l.failed.Load())
	}
}

func (l *load) client(id int) {
	defer l.wg.Done()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	welcome := "Welcome ! " + l.creds.Get("username")
	for !l.stop.Load() && l.ctx.Err() == nil {
		p, err := login(l.ctx, c, l.base, l.creds)
		if !l.record(id, "login", err) {
			continue
		}
		l.expect(c, id, "welcome", "/user/welcome", p.Access, welcome)
		l.expect(c, id, "ping", "/public/ping", "", "pong")
		// Logout keeps the user's live sessions few.
		l.expect(c, id, "logout", "/user/logout", p.Access, "Logout success")
	}
}

// expect GETs path and records a failure unless it answers 200 want.
func (l *load) expect(c *http.Client, id int, op, path, bearer, want string) {
	a, err := proc.Call(l.ctx, c, http.MethodGet, l.base+path, bearer, nil)
	if err == nil && (a.Status != http.StatusOK || a.Body != want) {
		err = fmt.Errorf("got %v, want 200 %q", a, want)
	}
	l.record(id, op, err)
}

func (l *load) record(id int, op string, err error) bool {
	if err == nil {
		l.ok.Add(1)
		return true
	}
	if l.ctx.Err() != nil {
		return false // the test is over: not the service's failure
	}
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 8 {
		l.failures = append(l.failures, fmt.Sprintf("  client %d %s at %s: %v", id, op, time.Now().Format("15:04:05.000"), err))
	}
	return false
}
