package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"go-jwt/test/proc"
	"go-jwt/test/testkit"
)

// build is the binary under test, built once per test run.
var build = &proc.Build{Prefix: "go-jwt-process-"}

func TestMain(m *testing.M) { proc.Main(m, build) }

// baseEnv is the environment every service process gets: nothing of the
// test's own environment but what a process needs to run.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// envList turns vars into KEY=value lines (in a stable order); an empty value
// leaves the variable out.
func envList(vars map[string]string) []string {
	env := baseEnv()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if vars[k] != "" {
			env = append(env, k+"="+vars[k])
		}
	}
	return env
}

// service is the binary running under test, with every process it became
// through endless restarts.
type service struct {
	t       *testing.T
	bin     string
	addr    string
	base    string
	user    string
	pass    string
	pidFile string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // cmd.Wait's answer, set before exited closes

	mu        sync.Mutex
	pids      map[int]bool // every PID seen in PID_FILE or the log
	listening map[int]bool // PIDs that logged "listening"
	logOff    int64
}

// serviceEnv returns the defaults of a test service; the caller overrides
// what it needs before startService.
func serviceEnv(t *testing.T, redisAddr string) map[string]string {
	t.Helper()
	return map[string]string{
		"REDIS_ADDR": redisAddr,
		// A fixed secret: tokens survive restarts.
		"JWT_SECRET": proc.RandomHex(t, 32),
		"DATA_KEY":   proc.RandomHex(t, 32),
		"DEMO_USER":  testkit.Name(t) + ":pw-" + proc.RandomHex(t, 4),
		// Cheap hashes; tests that want slow logins raise these.
		"ARGON2_TIME":       "1",
		"ARGON2_MEMORY_KIB": "1024",
		// Short lifetimes: nothing lingers in a shared Redis.
		"ACCESS_TTL":  "2m",
		"REFRESH_TTL": "5m",
		// The load tests log one user in thousands of times.
		"MAX_SESSIONS":     "10000",
		"LOGIN_USER_RATE":  "1000000",
		"LOGIN_USER_BURST": "1000000",
		"LOGIN_IP_RATE":    "1000000",
		"LOGIN_IP_BURST":   "1000000",
	}
}

// startService starts the binary with vars (APP_ADDR and PID_FILE are set
// here) and waits until it answers /public/ping. Cleanup kills every
// process it became.
func startService(t *testing.T, vars map[string]string) *service {
	t.Helper()
	dir := t.TempDir()
	s := &service{
		t:         t,
		bin:       build.Binary(t),
		addr:      proc.FreeAddr(t),
		pidFile:   filepath.Join(dir, "go-jwt.pid"),
		logPath:   filepath.Join(dir, "service.log"),
		exited:    make(chan struct{}),
		pids:      map[int]bool{},
		listening: map[int]bool{},
	}
	s.base = "http://" + s.addr
	vars["APP_ADDR"] = s.addr
	vars["PID_FILE"] = s.pidFile
	s.user, s.pass, _ = strings.Cut(vars["DEMO_USER"], ":")

	// A file, not a pipe: restarted processes inherit it and keep writing to
	// it, and cmd.Wait does not wait for them to close it.
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin)
	s.cmd.Env = envList(vars)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	// Its own process group, which restarted processes inherit: the cleanup's
	// backstop for a process the PID_FILE never named.
	// Pdeathsig: it dies with the test binary even when no cleanup runs
	// (go test -timeout).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatal(err)
	}
	s.track(s.cmd.Process.Pid)
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go s.watchPIDFile(stopWatch, watchDone)

	t.Cleanup(func() {
		close(stopWatch)
		<-watchDone
		s.killAll()
		_ = logFile.Close()
		if t.Failed() {
			s.logTailTo(t)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.waitPing(ctx, s.exited); err != nil {
		t.Fatalf("service did not come up: %v", err)
	}
	return s
}

// watchPIDFile records every PID that PID_FILE names, so the cleanup can
// kill processes that endless started.
func (s *service) watchPIDFile(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, err := s.readPID(); err == nil {
			s.track(pid)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func (s *service) track(pid int) {
	s.mu.Lock()
	s.pids[pid] = true
	s.mu.Unlock()
}

// readPID reads PID_FILE.
func (s *service) readPID() (int, error) {
	b, err := os.ReadFile(s.pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("PID_FILE holds %q", b)
	}
	return pid, nil
}

// listeningLine is the "listening" line, text or JSON (GIN_MODE=release).
var listeningLine = regexp.MustCompile(`(?:msg=listening .*\bpid=|"msg":"listening".*"pid":)(\d+)`)

// scanLog reads what the processes logged since the last call and notes
// which PIDs are listening.
func (s *service) scanLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.logPath)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(s.logOff, io.SeekStart); err != nil {
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return
	}
	// Only whole lines: the rest is read again next time.
	end := bytes.LastIndexByte(b, '\n') + 1
	s.logOff += int64(end)
	for _, line := range bytes.Split(b[:end], []byte("\n")) {
		if m := listeningLine.FindSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(string(m[1]))
			s.listening[pid] = true
			s.pids[pid] = true
		}
	}
}

func (s *service) isListening(pid int) bool {
	s.scanLog()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listening[pid]
}

// waitNewPID waits until PID_FILE names a process other than old that has
// logged "listening" (it holds the socket and has told old to drain).
func (s *service) waitNewPID(ctx context.Context, old int) (int, error) {
	for {
		if pid, err := s.readPID(); err == nil && pid != old && alive(pid) && s.isListening(pid) {
			return pid, nil
		}
		select {
		case <-ctx.Done():
			pid, err := s.readPID()
			return 0, fmt.Errorf("no new listening process after PID %d (PID_FILE: %d, %v): %w", old, pid, err, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitPing waits until GET /public/ping answers pong; it gives up early
// when exited closes (nil: never).
func (s *service) waitPing(ctx context.Context, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	var last error
	for {
		select {
		case <-exited:
			return fmt.Errorf("process exited: %v", s.waitErr)
		default:
		}
		a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/ping", "", nil)
		if err == nil && a.Status == http.StatusOK && a.Body == "pong" {
			return nil
		}
		last = fmt.Errorf("ping: %v %v", a, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killAll kills every process of the service that is still alive: each
// tracked PID that is still this binary, then the process group as a
// backstop, and waits (bounded) until they are gone.
func (s *service) killAll() {
	s.scanLog()
	s.mu.Lock()
	var pids []int
	for pid := range s.pids {
		pids = append(pids, pid)
	}
	s.mu.Unlock()
	for _, pid := range pids {
		if alive(pid) && s.isOurs(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.t.Errorf("cleanup: PID %d did not exit after SIGKILL", s.cmd.Process.Pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && s.isOurs(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// isOurs tells whether pid runs the binary under test (a guard against a
// reused PID).
func (s *service) isOurs(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.TrimSuffix(exe, " (deleted)") == s.bin
}

// logTailTo writes the end of the service log to the test log.
func (s *service) logTailTo(t *testing.T) {
	t.Logf("service log (tail):\n%s", proc.TailFile(s.logPath, 6000))
}

// grepLog returns the log lines that contain every one of words (at most n).
func (s *service) grepLog(n int, words ...string) []string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
next:
	for sc.Scan() && len(out) < n {
		for _, w := range words {
			if !strings.Contains(sc.Text(), w) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// alive tells whether pid is a running process: not gone (ESRCH) and not a
// zombie waiting for a parent that does not reap it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// waitGone waits until pid has exited.
func waitGone(ctx context.Context, pid int) error {
	for alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("PID %d still running: %w", pid, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// credentials is the demo user's login form.
func (s *service) credentials() url.Values {
	return url.Values{"username": {s.user}, "password": {s.pass}}
}

// login logs the service's demo user in and fails the test unless it gets a
// pair.
func (s *service) login(ctx context.Context, t *testing.T, c *http.Client) proc.Pair {
	t.Helper()
	a, err := proc.Call(ctx, c, http.MethodPost, s.base+"/public/login", "", s.credentials())
	if err != nil || a.Status != http.StatusOK {
		t.Fatalf("login: %v %v", a, err)
	}
	var p proc.Pair
	if err := json.Unmarshal([]byte(a.Body), &p); err != nil || p.Access == "" || p.Refresh == "" {
		t.Fatalf("login answer %v: %v", a, err)
	}
	return p
}

// welcome asserts that access opens /user/welcome.
func (s *service) welcome(ctx context.Context, t *testing.T, c *http.Client, access string) {
	t.Helper()
	a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/user/welcome", access, nil)
	if want := "Welcome ! " + s.user; err != nil || a.Status != http.StatusOK || a.Body != want {
		t.Fatalf("welcome: got %v %v, want 200 %q", a, err, want)
	}
}

// redisServer is a Redis the test can stop and start again on the same
// port: a redis-server child process when one is installed (persisting to
// an append-only file in a temp dir, so the data survives), else miniredis.
type redisServer struct {
	t    *testing.T
	addr string
	real *proc.Redis
	mini *miniredis.Miniredis
}

func newRedisServer(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{t: t}
	exe, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatalf("REQUIRE_REDIS=1 but redis-server is not on PATH: %v", err)
		}
		t.Log("redis-server not on PATH: using miniredis for the outage")
		r.mini = miniredis.RunT(t)
		r.addr = r.mini.Addr()
		return r
	}
	r.real = &proc.Redis{Name: "redis-server", Exe: exe, Addr: proc.FreeAddr(t), Dir: t.TempDir(),
		Args: []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}}
	r.addr = r.real.Addr
	r.real.Start(t)
	// Before the SIGKILL cleanup of Start: a clean stop, checked.
	t.Cleanup(r.real.Stop)
	return r
}

// Start starts Redis on its address and waits until it answers PING.
func (r *redisServer) Start() {
	r.t.Helper()
	if r.mini != nil {
		if err := r.mini.Restart(); err != nil {
			r.t.Fatalf("miniredis restart: %v", err)
		}
		return
	}
	r.real.Start(r.t)
}

// Stop stops Redis (SIGTERM: the append-only file is complete) and waits
// until it is gone.
func (r *redisServer) Stop() {
	r.t.Helper()
	if r.mini != nil {
		r.mini.Close()
		return
	}
	r.real.Stop()
}
