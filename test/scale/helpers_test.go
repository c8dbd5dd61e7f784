// Package scale tests the service binary beside real Redis topologies
// (docs/SCALING.md): a 3-master Redis Cluster, a Sentinel-managed master
// killed under load, two instances sharing one Redis, TLS with an ACL user.
// Each test starts its own redis-server processes on loopback and stops
// every process it started. Without redis-server the tests skip; in CI
// (CI=true or REQUIRE_REDIS=1) they fail instead.
package scale

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"
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

// needRedis returns the path of redis-server; without one it skips the
// test, or fails it in CI.
func needRedis(t *testing.T) string {
	t.Helper()
	exe, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server is not on PATH (required in CI): %v", err)
		}
		t.Skipf("redis-server is not on PATH: %v", err)
	}
	return exe
}

// binary builds go-jwt from the repository root (once) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("go env GOMOD: %q %v", out, err)
			return
		}
		if buildDir, err = os.MkdirTemp("", "go-jwt-scale-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "go-jwt")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "go-jwt")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort returns a loopback port that was free a moment ago, and whose
// cluster bus port (+10000) was free too.
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 20000 + int(randomUint(t)%25000)
		if portFree(p) && portFree(p+10000) {
			return p
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func randomUint(t *testing.T) uint32 {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// proc is one redis-server (or sentinel) process of the test's own.
type proc struct {
	t      *testing.T
	name   string
	addr   string
	port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startRedis starts redis-server on a free loopback port in a directory of
// its own, with args after the listening options (a config file first when
// conf is not empty), and waits until it answers PING. Cleanup kills it.
func startRedis(t *testing.T, name, conf string, args ...string) *proc {
	t.Helper()
	return startRedisPing(t, name, conf, nil, args...)
}

// startRedisPing is startRedis for a server that wants more than a plain
// PING (TLS, a user): ping adjusts the options of the client that waits.
// "{port}" and "{dir}" in conf and args stand for the port and directory.
func startRedisPing(t *testing.T, name, conf string, ping func(*redis.Options), args ...string) *proc {
	t.Helper()
	exe := needRedis(t)
	p := &proc{t: t, name: name, port: freePort(t), dir: t.TempDir(), exited: make(chan struct{})}
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	fill := strings.NewReplacer("{port}", strconv.Itoa(p.port), "{dir}", p.dir).Replace
	var argv []string
	if conf != "" {
		path := filepath.Join(p.dir, name+".conf")
		if err := os.WriteFile(path, []byte(fill(conf)), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, path)
	}
	argv = append(argv, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--dir", p.dir, "--daemonize", "no")
	for _, a := range args {
		argv = append(argv, fill(a))
	}
	logFile, err := os.Create(filepath.Join(p.dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	p.cmd = exec.Command(exe, argv...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.logTail()
		}
	})

	opt := &redis.Options{Addr: p.addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1}
	if ping != nil {
		ping(opt)
	}
	c := redis.NewClient(opt)
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		switch {
		case err == nil:
			return p
		case p.gone():
			p.logTail()
			t.Fatalf("%s exited at start", name)
		case time.Now().After(deadline):
			p.logTail()
			t.Fatalf("%s on %s does not answer: %v", name, p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) gone() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL (no shutdown, no final write) and waits
// until it is reaped.
func (p *proc) kill() {
	if p.gone() {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.t.Errorf("%s (PID %d) not reaped 5s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *proc) logTail() {
	b, _ := os.ReadFile(filepath.Join(p.dir, "log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	p.t.Logf("%s log (tail):\n%s", p.name, b)
}

// client is a go-redis client of the test's own on p (closed at cleanup).
func (p *proc) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	p.t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond every 50 ms until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still not %s: %s", d, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// service is the binary running under test.
type service struct {
	t       *testing.T
	base    string
	user    string
	pass    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// serviceEnv returns the settings of a test service; the caller adds where
// Redis is.
func serviceEnv(t *testing.T, secret string) map[string]string {
	return map[string]string{
		"JWT_SECRET":        secret,
		"DEMO_USER":         "scale" + randomHex(t, 4) + ":pw-" + randomHex(t, 4),
		"ARGON2_TIME":       "1",
		"ARGON2_MEMORY_KIB": "1024",
		"ACCESS_TTL":        "2m",
		"REFRESH_TTL":       "5m",
		"MAX_SESSIONS":      "10000",
		"LOGIN_USER_RATE":   "1000000",
		"LOGIN_USER_BURST":  "1000000",
		"LOGIN_IP_RATE":     "1000000",
		"LOGIN_IP_BURST":    "1000000",
	}
}

// startService starts the binary with vars and waits until it answers
// /public/ping. Cleanup kills it.
func startService(t *testing.T, name string, vars map[string]string) *service {
	t.Helper()
	s, err := launch(t, name, vars)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for {
		a, err := call(ctx, c, http.MethodGet, s.base+"/public/ping", "", nil)
		if err == nil && a.status == http.StatusOK {
			return s
		}
		select {
		case <-s.exited:
			s.logTail()
			t.Fatalf("%s exited at start", name)
		case <-ctx.Done():
			s.logTail()
			t.Fatalf("%s does not answer /public/ping: %v %v", name, a, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// launch starts the binary (APP_ADDR is set here) without waiting for it.
func launch(t *testing.T, name string, vars map[string]string) (*service, error) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	s := &service{t: t, base: "http://" + addr, logPath: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	s.user, s.pass, _ = strings.Cut(vars["DEMO_USER"], ":")
	env := []string{"APP_ADDR=" + addr}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	s.cmd = exec.Command(binary(t))
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("%s (PID %d) not reaped 5s after SIGKILL", name, s.cmd.Process.Pid)
		}
		if t.Failed() {
			s.logTail()
		}
	})
	return s, nil
}

// exit waits (bounded) for the process to end by itself and returns its log.
func (s *service) exit(d time.Duration) (string, bool) {
	select {
	case <-s.exited:
		b, _ := os.ReadFile(s.logPath)
		return string(b), true
	case <-time.After(d):
		return "", false
	}
}

func (s *service) logTail() {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	s.t.Logf("service log (tail):\n%s", b)
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
		return answer{status: resp.StatusCode}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// client is the HTTP client of one test against its services.
type client struct {
	t   *testing.T
	ctx context.Context
	c   *http.Client
}

func newClient(t *testing.T, ctx context.Context) *client {
	c := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return &client{t: t, ctx: ctx, c: c}
}

// do sends a request and fails the test unless the answer has status want.
func (c *client) do(want int, method, u, bearer string, form url.Values) answer {
	c.t.Helper()
	a, err := call(c.ctx, c.c, method, u, bearer, form)
	if err != nil || a.status != want {
		c.t.Fatalf("%s %s: got %v %v, want %d", method, u, a, err, want)
	}
	return a
}

// login logs user in on s and returns the pair.
func (c *client) login(s *service, user, pass string) pair {
	c.t.Helper()
	a := c.do(http.StatusOK, http.MethodPost, s.base+"/public/login", "", url.Values{"username": {user}, "password": {pass}})
	return decodePair(c.t, a)
}

// refresh rotates p's refresh token on s.
func (c *client) refresh(s *service, p pair) pair {
	c.t.Helper()
	return decodePair(c.t, c.do(http.StatusOK, http.MethodPost, s.base+"/public/refresh", p.Refresh, nil))
}

// welcome asserts that access gets want on s's /user/welcome.
func (c *client) welcome(s *service, access string, want int) {
	c.t.Helper()
	a := c.do(want, http.MethodGet, s.base+"/user/welcome", access, nil)
	if want == http.StatusOK && !strings.HasPrefix(a.body, "Welcome ! ") {
		c.t.Fatalf("welcome body %q", a.body)
	}
}

// sessions lists the sessions of access's user on s.
func (c *client) sessions(s *service, access string) []string {
	c.t.Helper()
	a := c.do(http.StatusOK, http.MethodGet, s.base+"/user/sessions", access, nil)
	var body struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		c.t.Fatalf("sessions %v: %v", a, err)
	}
	var ids []string
	for _, s := range body.Sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

func decodePair(t *testing.T, a answer) pair {
	t.Helper()
	var p pair
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Access == "" || p.Refresh == "" {
		t.Fatalf("token pair answer %v: %v", a, err)
	}
	return p
}

// infoField reads one field of an INFO section ("role", "master_link_status"…).
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// lines returns the lines of a log that contain s.
func lines(log, s string) []string {
	var out []string
	for _, l := range bytes.Split([]byte(log), []byte("\n")) {
		if bytes.Contains(l, []byte(s)) {
			out = append(out, string(l))
		}
	}
	return out
}
