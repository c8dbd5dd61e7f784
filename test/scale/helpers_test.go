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
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/test/proc"
)

// build is the binary under test, built once per test run.
var build = &proc.Build{Prefix: "go-jwt-scale-"}

func TestMain(m *testing.M) { proc.Main(m, build) }

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

// startRedis starts redis-server on a free loopback port (its cluster bus
// port free too) in a directory of its own, with args after the listening
// options (a config file first when conf is not empty), and waits until it
// answers PING. Cleanup kills it.
func startRedis(t *testing.T, name, conf string, args ...string) *proc.Redis {
	t.Helper()
	return startRedisPing(t, name, conf, nil, args...)
}

// startRedisPing is startRedis for a server that wants more than a plain
// PING (TLS, a user): ping adjusts the options of the client that waits.
// "{port}" and "{dir}" in conf and args stand for the port and directory.
func startRedisPing(t *testing.T, name, conf string, ping func(*redis.Options), args ...string) *proc.Redis {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	r := &proc.Redis{Name: name, Exe: needRedis(t), Addr: net.JoinHostPort("127.0.0.1", port), Dir: t.TempDir(), Ping: ping}
	fill := strings.NewReplacer("{port}", port, "{dir}", r.Dir).Replace
	if conf != "" {
		r.Config = filepath.Join(r.Dir, name+".conf")
		if err := os.WriteFile(r.Config, []byte(fill(conf)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range args {
		r.Args = append(r.Args, fill(a))
	}
	r.Start(t)
	return r
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
		"DEMO_USER":         "scale" + proc.RandomHex(t, 4) + ":pw-" + proc.RandomHex(t, 4),
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
		a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/ping", "", nil)
		if err == nil && a.Status == http.StatusOK {
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
	s.cmd = exec.Command(build.Binary(t))
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
	s.t.Logf("service log (tail):\n%s", proc.TailFile(s.logPath, 4000))
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
func (c *client) do(want int, method, u, bearer string, form url.Values) proc.Answer {
	c.t.Helper()
	a, err := proc.Call(c.ctx, c.c, method, u, bearer, form)
	if err != nil || a.Status != want {
		c.t.Fatalf("%s %s: got %v %v, want %d", method, u, a, err, want)
	}
	return a
}

// login logs user in on s and returns the pair.
func (c *client) login(s *service, user, pass string) proc.Pair {
	c.t.Helper()
	a := c.do(http.StatusOK, http.MethodPost, s.base+"/public/login", "", url.Values{"username": {user}, "password": {pass}})
	return decodePair(c.t, a)
}

// refresh rotates p's refresh token on s.
func (c *client) refresh(s *service, p proc.Pair) proc.Pair {
	c.t.Helper()
	return decodePair(c.t, c.do(http.StatusOK, http.MethodPost, s.base+"/public/refresh", p.Refresh, nil))
}

// welcome asserts that access gets want on s's /user/welcome.
func (c *client) welcome(s *service, access string, want int) {
	c.t.Helper()
	a := c.do(want, http.MethodGet, s.base+"/user/welcome", access, nil)
	if want == http.StatusOK && !strings.HasPrefix(a.Body, "Welcome ! ") {
		c.t.Fatalf("welcome body %q", a.Body)
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
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
		c.t.Fatalf("sessions %v: %v", a, err)
	}
	var ids []string
	for _, s := range body.Sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

func decodePair(t *testing.T, a proc.Answer) proc.Pair {
	t.Helper()
	var p proc.Pair
	if err := json.Unmarshal([]byte(a.Body), &p); err != nil || p.Access == "" || p.Refresh == "" {
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
