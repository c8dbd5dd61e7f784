package process

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/test/testkit"
)

// The binary is built once per test run, into buildDir, which TestMain
// removes at the end.
var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds go-jwt from the repository root (once) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "go-jwt-process-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "go-jwt")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "go-jwt")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// repoRoot is the folder of go.mod, asked of the go command (../.. as a
// fallback).
func repoRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return filepath.Abs(filepath.Join("..", ".."))
}

// freeAddr returns 127.0.0.1:<a port that was free a moment ago>.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sharedRedis is the Redis a test that does not stop Redis runs against:
// REDIS_TEST_ADDR when set, else a miniredis in this process (on TCP).
func sharedRedis(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv("REDIS_TEST_ADDR"); addr != "" {
		return addr
	}
	if os.Getenv("REQUIRE_REDIS") == "1" {
		t.Fatal("REQUIRE_REDIS=1 but REDIS_TEST_ADDR is not set: tests must run against a real Redis")
	}
	return miniredis.RunT(t).Addr()
}

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
		"JWT_SECRET": randomHex(t, 32),
		"DEMO_USER":  testkit.Name(t) + ":pw-" + randomHex(t, 4),
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
		bin:       binary(t),
		addr:      freeAddr(t),
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

var listeningLine = regexp.MustCompile(`msg=listening .*\bpid=(\d+)`)

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
		a, err := call(ctx, c, http.MethodGet, s.base+"/public/ping", "", nil)
		if err == nil && a.status == http.StatusOK && a.body == "pong" {
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
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	t.Logf("service log (tail):\n%s", b)
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

// pair is the token pair of login and refresh.
type pair struct {
	Access  string `json:"accessToken"`
	Refresh string `json:"refreshToken"`
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) String() string { return fmt.Sprintf("%d %q", a.status, a.body) }

// call sends one request and reads the whole answer. form, when not nil, is
// sent urlencoded; bearer, when not empty, as Authorization.
func call(ctx context.Context, c *http.Client, method, u, bearer string, form url.Values) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return answer{status: resp.StatusCode}, fmt.Errorf("reading the %s answer: %w", resp.Status, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// credentials is the demo user's login form.
func (s *service) credentials() url.Values {
	return url.Values{"username": {s.user}, "password": {s.pass}}
}

// login logs the service's demo user in and fails the test unless it gets a
// pair.
func (s *service) login(ctx context.Context, t *testing.T, c *http.Client) pair {
	t.Helper()
	a, err := call(ctx, c, http.MethodPost, s.base+"/public/login", "", s.credentials())
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("login: %v %v", a, err)
	}
	var p pair
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Access == "" || p.Refresh == "" {
		t.Fatalf("login answer %v: %v", a, err)
	}
	return p
}

// welcome asserts that access opens /user/welcome.
func (s *service) welcome(ctx context.Context, t *testing.T, c *http.Client, access string) {
	t.Helper()
	a, err := call(ctx, c, http.MethodGet, s.base+"/user/welcome", access, nil)
	if want := "Welcome ! " + s.user; err != nil || a.status != http.StatusOK || a.body != want {
		t.Fatalf("welcome: got %v %v, want 200 %q", a, err, want)
	}
}

// redisServer is a Redis the test can stop and start again on the same
// port: a redis-server child process when one is installed (persisting to
// an append-only file in a temp dir, so the data survives), else miniredis.
type redisServer struct {
	t    *testing.T
	addr string
	// real redis-server
	exe, dir string
	cmd      *exec.Cmd
	exited   chan struct{}
	// miniredis
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
	r.exe, r.dir, r.addr = exe, t.TempDir(), freeAddr(t)
	r.Start()
	t.Cleanup(func() {
		if r.cmd != nil {
			r.Stop()
		}
	})
	return r
}

// Start starts Redis on its address and waits until it answers PING.
func (r *redisServer) Start() {
	t := r.t
	t.Helper()
	if r.mini != nil {
		if err := r.mini.Restart(); err != nil {
			t.Fatalf("miniredis restart: %v", err)
		}
		return
	}
	_, port, _ := net.SplitHostPort(r.addr)
	logFile, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	r.cmd = exec.Command(r.exe, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no")
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	cmd, exited := r.cmd, r.exited
	go func() { _ = cmd.Wait(); close(exited) }()

	c := redis.NewClient(&redis.Options{Addr: r.addr, DialTimeout: 200 * time.Millisecond})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			t.Fatalf("redis-server exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer: %v", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops Redis (SIGTERM: the append-only file is complete) and waits
// until it is gone.
func (r *redisServer) Stop() {
	t := r.t
	t.Helper()
	if r.mini != nil {
		r.mini.Close()
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		t.Errorf("redis-server did not stop on SIGTERM within 5s")
	}
	r.cmd = nil
}
