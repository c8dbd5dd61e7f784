// Package process tests the built binary from outside: graceful restart
// under load (SIGHUP), draining on SIGTERM, a Redis outage and bad
// configuration. Every test is bounded in time and kills every process it
// started, including those endless restarts started.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

const (
	loadClients   = 16
	loadMaxRounds = 1000             // per client: bounds the load in count
	loadDuration  = 40 * time.Second // bounds the load in time
	phaseRequests = 400              // successful requests each process serves before the next SIGHUP
	restarts      = 3
)

// TestSIGHUPUnderLoad restarts the service three times while 16 clients log
// in, call a private route, rotate and log out in a loop: no request may
// fail, every old process must end, and a token issued before the first
// restart must still work after the last one.
func TestSIGHUPUnderLoad(t *testing.T) {
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration+20*time.Second)
	defer cancel()

	first, err := s.readPID()
	if err != nil || first != s.cmd.Process.Pid {
		t.Fatalf("PID_FILE names %d (%v), want the started process %d", first, err, s.cmd.Process.Pid)
	}
	probe := &http.Client{Timeout: 5 * time.Second}
	defer probe.CloseIdleConnections()
	early := s.login(ctx, t, probe)

	l := newLoad(ctx, s)
	l.start(loadClients)
	defer l.finish() // also on t.Fatal: the clients stop before the cleanup kills the service
	l.setPhase(fmt.Sprintf("before SIGHUP #1 (PID %d)", first))
	l.waitProgress(t, phaseRequests)

	pid := first
	for i := 1; i <= restarts; i++ {
		l.setPhase(fmt.Sprintf("SIGHUP #%d sent to PID %d", i, pid))
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatalf("SIGHUP #%d to %d: %v", i, pid, err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		next, err := s.waitNewPID(wctx, pid)
		if err == nil {
			err = waitGone(wctx, pid)
		}
		if err == nil {
			err = s.waitPing(wctx, nil)
		}
		wcancel()
		if err != nil {
			t.Fatalf("restart #%d: %v", i, err)
		}
		if pid == first {
			// The first process is the test's child: it exits 0 after draining.
			select {
			case <-s.exited:
				if s.waitErr != nil {
					t.Errorf("first process (PID %d) ended with %v, want exit status 0", first, s.waitErr)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("first process (PID %d) not reaped 5s after it was gone", first)
			}
		}
		t.Logf("restart #%d: PID %d → %d in %v", i, pid, next, time.Since(l.phaseStart()).Round(time.Millisecond))
		pid = next
		l.setPhase(fmt.Sprintf("after restart #%d (PID %d serving)", i, pid))
		l.waitProgress(t, phaseRequests)
	}

	l.finish()
	t.Logf("load: %d requests answered as expected, %d failed (%d of them re-sent by the transport after the server closed their connection)",
		l.ok.Load(), l.failed.Load(), l.resent.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed; the first ones:\n%s", n, strings.Join(l.firstFailures(), "\n"))
		if warn := s.grepLog(10, "level=WARN"); len(warn) > 0 {
			t.Logf("the service's warnings:\n%s", strings.Join(warn, "\n"))
		}
	}

	probe.CloseIdleConnections() // its connection went to the first process
	s.welcome(ctx, t, probe, early.Access)

	// The last process drains on SIGTERM like any other and, being the last,
	// removes PID_FILE.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	defer gcancel()
	if err := waitGone(gctx, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PID_FILE after the last process ended: %v, want it removed", err)
	}
}

// load is a set of clients that drive the service until finish.
type load struct {
	ctx    context.Context
	s      *service
	stop   atomic.Bool
	wg     sync.WaitGroup
	ok     atomic.Int64 // requests answered as expected
	failed atomic.Int64
	resent atomic.Int64 // requests the transport sent again on a new connection (failures too)
	once   sync.Once

	mu       sync.Mutex
	phase    string
	phaseAt  time.Time
	failures []string
}

func newLoad(ctx context.Context, s *service) *load {
	return &load{ctx: ctx, s: s, phaseAt: time.Now()}
}

func (l *load) start(n int) {
	for id := range n {
		l.wg.Add(1)
		go l.client(id)
	}
}

// finish stops the clients after their current request and waits for them.
func (l *load) finish() {
	l.once.Do(func() {
		l.stop.Store(true)
		l.wg.Wait() // bounded: each request times out after 5s, and stop is checked before each
	})
}

func (l *load) setPhase(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase, l.phaseAt = p, time.Now()
}

func (l *load) phaseStart() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phaseAt
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
	deadline := time.Now().Add(15 * time.Second)
	for l.ok.Load() < target {
		if time.Now().After(deadline) || l.ctx.Err() != nil || l.stop.Load() {
			t.Fatalf("load made no progress: %d of %d requests (%d failed)", l.ok.Load(), target, l.failed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client logs in, calls welcome, rotates twice, logs out, and again: each
// with its own keep-alive connection pool, and no retry of its own.
func (l *load) client(id int) {
	defer l.wg.Done()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	welcome := "Welcome ! " + l.s.user
	for range loadMaxRounds {
		p, ok := l.pair(c, id, "login", http.MethodPost, "/public/login", "", l.s.credentials())
		if !ok {
			continue
		}
		for range 2 {
			for range 3 {
				if !l.expect(c, id, "welcome", http.MethodGet, "/user/welcome", p.Access, nil, welcome) {
					break
				}
			}
			if p, ok = l.pair(c, id, "refresh", http.MethodGet, "/public/refresh", p.Refresh, nil); !ok {
				break
			}
		}
		if ok && l.expect(c, id, "welcome", http.MethodGet, "/user/welcome", p.Access, nil, welcome) {
			l.expect(c, id, "logout", http.MethodGet, "/user/logout", p.Access, nil, "Logout success")
		}
		if l.stop.Load() || l.ctx.Err() != nil {
			return
		}
	}
}

// pair sends a request that must answer 200 with a token pair.
func (l *load) pair(c *http.Client, id int, op, method, path, bearer string, form url.Values) (proc.Pair, bool) {
	var p proc.Pair
	ok := l.request(c, id, op, method, path, bearer, form, func(a proc.Answer) error {
		if err := json.Unmarshal([]byte(a.Body), &p); err != nil || p.Access == "" || p.Refresh == "" {
			return fmt.Errorf("not a token pair (%v)", err)
		}
		return nil
	})
	return p, ok
}

// expect sends a request that must answer 200 with body want.
func (l *load) expect(c *http.Client, id int, op, method, path, bearer string, form url.Values, want string) bool {
	return l.request(c, id, op, method, path, bearer, form, func(a proc.Answer) error {
		if a.Body != want {
			return fmt.Errorf("body is not %q", want)
		}
		return nil
	})
}

// connTrace is what httptrace saw of one request: the connections it went
// on (more than one when the transport sent it again), and whether it was
// written and answered.
type connTrace struct {
	mu       sync.Mutex
	attempts []string
	wrote    bool
	writeErr error
	gotByte  bool
}

func (ct *connTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			ct.mu.Lock()
			defer ct.mu.Unlock()
			ct.attempts = append(ct.attempts, fmt.Sprintf("conn %s (reused %v, idle %v for %v)",
				i.Conn.LocalAddr(), i.Reused, i.WasIdle, i.IdleTime.Round(time.Microsecond)))
		},
		WroteRequest: func(w httptrace.WroteRequestInfo) {
			ct.mu.Lock()
			defer ct.mu.Unlock()
			ct.wrote, ct.writeErr = true, w.Err
		},
		GotFirstResponseByte: func() {
			ct.mu.Lock()
			defer ct.mu.Unlock()
			ct.gotByte = true
		},
	}
}

func (ct *connTrace) sends() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return len(ct.attempts)
}

func (ct *connTrace) String() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return fmt.Sprintf("sent on %s; written %v (err %v), response byte %v",
		strings.Join(ct.attempts, ", then re-sent on "), ct.wrote, ct.writeErr, ct.gotByte)
}

// request sends one request and records it as a failure unless it answers
// 200 and check accepts the answer. It reports false at once when the load
// is stopping.
func (l *load) request(c *http.Client, id int, op, method, path, bearer string, form url.Values, check func(proc.Answer) error) bool {
	if l.stop.Load() {
		return false
	}
	ct := &connTrace{}
	ctx := httptrace.WithClientTrace(l.ctx, ct.trace())
	start := time.Now()
	a, err := proc.Call(ctx, c, method, l.s.base+path, bearer, form)
	if err == nil && a.Status != http.StatusOK {
		err = errors.New("unexpected status")
	}
	if err == nil {
		err = check(a)
	}
	if ct.sends() > 1 {
		// The transport sends an idempotent request again when the server
		// closed its keep-alive connection under it: a dropped request that
		// the server may have run (a refresh would then count as reuse).
		l.resent.Add(1)
		if err == nil {
			err = errors.New("answered only after the transport re-sent it on a new connection")
		}
	}
	if err == nil {
		l.ok.Add(1)
		return true
	}
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 8 {
		body := a.Body
		if strings.Contains(body, `"accessToken"`) {
			body = "<a token pair>"
		} else if len(body) > 200 {
			body = body[:200] + "…"
		}
		l.failures = append(l.failures, fmt.Sprintf(
			"  client %d %s %s %s: %v (status %d, body %q) after %v; phase %q, %v into it; %v",
			id, op, method, path, err, a.Status, body, time.Since(start).Round(time.Microsecond),
			l.phase, start.Sub(l.phaseAt).Round(time.Microsecond), ct))
	}
	return false
}

// Login cost for TestSIGTERMDrainsInFlight: argon2id with these parameters
// takes a few hundred milliseconds a hash on a small machine, and several
// run at once.
const (
	slowArgon2Time   = "24"
	slowArgon2Memory = "19456"
	inFlight         = 8
)

// TestSIGTERMDrainsInFlight sends SIGTERM while slow logins are being
// served: every one of them must complete with 200, the process must exit 0,
// and the port must then refuse connections.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	env := serviceEnv(t, proc.RedisAddr(t))
	env["ARGON2_TIME"], env["ARGON2_MEMORY_KIB"] = slowArgon2Time, slowArgon2Memory
	env["HASH_CONCURRENCY"], env["HASH_WAIT"] = fmt.Sprint(inFlight), "30s"
	s := startService(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	// One login alone, to report what a login costs here.
	t0 := time.Now()
	s.login(ctx, t, c)
	t.Logf("one login takes %v", time.Since(t0).Round(time.Millisecond))
	tr.CloseIdleConnections() // every login below opens its own connection

	type result struct {
		a    proc.Answer
		err  error
		done time.Time
	}
	results := make([]result, inFlight)
	var written, finished sync.WaitGroup
	written.Add(inFlight)
	finished.Add(inFlight)
	for i := range inFlight {
		go func() {
			defer finished.Done()
			var once sync.Once
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(written.Done) }}
			a, err := proc.Call(httptrace.WithClientTrace(ctx, trace), c, http.MethodPost, s.base+"/public/login", "", s.credentials())
			once.Do(written.Done)
			results[i] = result{a, err, time.Now()}
		}()
	}
	if !waitGroup(&written, 10*time.Second) {
		t.Fatal("the logins were not all sent within 10s")
	}
	// Sent is not yet accepted and read: give the server a moment.
	time.Sleep(200 * time.Millisecond)
	sigAt := time.Now()
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !waitGroup(&finished, 30*time.Second) {
		t.Fatal("the in-flight logins did not finish within 30s of SIGTERM")
	}
	for i, r := range results {
		var p proc.Pair
		switch {
		case r.err != nil:
			t.Errorf("login %d: %v", i, r.err)
		case r.a.Status != http.StatusOK || json.Unmarshal([]byte(r.a.Body), &p) != nil || p.Access == "":
			t.Errorf("login %d: %v, want 200 with a token pair", i, r.a)
		case r.done.Before(sigAt):
			t.Errorf("login %d finished %v before SIGTERM: logins too fast to test draining", i, sigAt.Sub(r.done))
		default:
			t.Logf("login %d: 200, %v after SIGTERM", i, r.done.Sub(sigAt).Round(time.Millisecond))
		}
	}

	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("process ended with %v, want exit status 0", s.waitErr)
		}
		t.Logf("process exited %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("process still running 15s after SIGTERM and its requests")
	}
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err == nil {
		_ = conn.Close()
		t.Errorf("a new connection to %s after exit was accepted", s.addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a new connection after exit: %v, want connection refused", err)
	}
	if _, err := os.Stat(s.pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PID_FILE after exit: %v, want it removed", err)
	}
}

// waitGroup waits for wg at most d; false if it timed out.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestRedisOutageGives503AndRecovers stops Redis under a running service:
// private routes, login and readiness answer 503 unavailable at once (never
// 401 or 500), and once Redis is back the service recovers by itself with
// its sessions intact.
func TestRedisOutageGives503AndRecovers(t *testing.T) {
	r := newRedisServer(t)
	s := startService(t, serviceEnv(t, r.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()

	p := s.login(ctx, t, c)
	s.welcome(ctx, t, c, p.Access)

	r.Stop()
	checks := []struct {
		name, method, path, bearer string
		form                       url.Values
	}{
		{"welcome with a valid token", http.MethodGet, "/user/welcome", p.Access, nil},
		{"readiness", http.MethodGet, "/readyz", "", nil},
		{"login", http.MethodPost, "/public/login", "", s.credentials()},
		{"refresh", http.MethodGet, "/public/refresh", p.Refresh, nil},
	}
	for _, tc := range checks {
		start := time.Now()
		a, err := proc.Call(ctx, c, tc.method, s.base+tc.path, tc.bearer, tc.form)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s during the outage: %v", tc.name, err)
			continue
		}
		var body struct{ Error string }
		_ = json.Unmarshal([]byte(a.Body), &body)
		if a.Status != http.StatusServiceUnavailable || body.Error != "unavailable" || a.Header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: %v (Retry-After %q), want 503 unavailable with Retry-After",
				tc.name, a, a.Header.Get("Retry-After"))
		}
		// A hang guard, not a performance figure.
		if took > 3*time.Second {
			t.Errorf("%s during the outage took %v", tc.name, took)
		}
	}
	select {
	case <-s.exited:
		t.Fatalf("the service exited during the outage: %v", s.waitErr)
	default:
	}

	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/readyz", "", nil)
		if err == nil && a.Status == http.StatusOK {
			t.Logf("ready again %v after Redis restarted", time.Since(deadline.Add(-10*time.Second)).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 10s after Redis came back: %v %v", a, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.welcome(ctx, t, c, p.Access)
	// The refresh token, presented during the outage, was not rotated then:
	// it still rotates.
	a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", p.Refresh, nil)
	if err != nil || a.Status != http.StatusOK {
		t.Errorf("refresh after the outage: %v %v, want 200", a, err)
	}
}

// TestBadConfigExitsWithOneLine starts the binary with one bad setting at a
// time: it must exit 1 with a last line naming the variable, and never
// panic.
func TestBadConfigExitsWithOneLine(t *testing.T) {
	bin := build.Binary(t)
	redisAddr := proc.RedisAddr(t)
	tests := []struct {
		name    string
		set     map[string]string
		unset   []string
		naming  string
		message string
	}{
		{"unparsable duration", map[string]string{"ACCESS_TTL": "abc"}, nil, "ACCESS_TTL", "duration"},
		{"short secret", map[string]string{"JWT_SECRET": "short"}, nil, "JWT_SECRET", "32"},
		{"release mode without a secret", map[string]string{"GIN_MODE": "release"}, []string{"JWT_SECRET"}, "JWT_SECRET", "release"},
		{"release mode without a data key", map[string]string{"GIN_MODE": "release"}, []string{"DATA_KEY"}, "DATA_KEY", "release"},
		{"short data key", map[string]string{"DATA_KEY": "short"}, nil, "DATA_KEY", "32"},
		{"unreachable Redis", map[string]string{"REDIS_ADDR": "127.0.0.1:1"}, nil, "REDIS_ADDR", "127.0.0.1:1"},
		{"Redis address without a port", map[string]string{"REDIS_ADDR": "localhost"}, nil, "REDIS_ADDR", "host:port"},
		{"argon2 time out of range", map[string]string{"ARGON2_TIME": "0"}, nil, "ARGON2_TIME", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := t.TempDir() + "/go-jwt.pid"
			env := serviceEnv(t, redisAddr)
			env["APP_ADDR"], env["PID_FILE"] = proc.FreeAddr(t), pidFile
			for k, v := range tc.set {
				env[k] = v
			}
			for _, k := range tc.unset {
				delete(env, k)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = envList(env)
			cmd.WaitDelay = time.Second
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after 15s; stderr:\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.naming) || !strings.Contains(last, tc.message) {
				t.Errorf("last line of stderr %q, want it to name %s (and say %q)", last, tc.naming, tc.message)
			}
			all := strings.ToLower(stdout.String() + stderr.String())
			for _, bad := range []string{"panic", "goroutine "} {
				if strings.Contains(all, bad) {
					t.Errorf("output holds %q:\n%s%s", bad, stdout.String(), stderr.String())
				}
			}
			if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("PID_FILE left behind: %v", err)
			}
			t.Logf("%s", last)
		})
	}
}
