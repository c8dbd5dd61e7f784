package container

import (
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// The binary is built once per test run, exactly as the Dockerfile builds
// it, into buildDir, which TestMain removes at the end.
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

// staticBinary builds go-jwt with the Dockerfile's command (once) and
// returns its path.
func staticBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "go-jwt-container-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "go-jwt")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
			"-ldflags", "-s -w -X main.version=test", "-o", binPath, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// repoRoot is the folder of go.mod, asked of the go command.
func repoRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return filepath.Abs(filepath.Join("..", ".."))
}

// unavailable skips the test when the machine cannot run it, except in CI
// (CI=true), where the machine is expected to and it is a failure.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// redisAddr is REDIS_TEST_ADDR when set, else a miniredis in this process.
func redisAddr(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv("REDIS_TEST_ADDR"); addr != "" {
		return addr
	}
	if os.Getenv("REQUIRE_REDIS") == "1" {
		t.Fatal("REQUIRE_REDIS=1 but REDIS_TEST_ADDR is not set: tests must run against a real Redis")
	}
	return miniredis.RunT(t).Addr()
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

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	pid, ppid int
	state     byte
}

// processes lists every process of the host's /proc.
// (/proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which not
// every kernel has: this one walks the parent links instead.)
func processes() []procStat {
	ents, _ := os.ReadDir("/proc")
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := stat(pid); ok {
			out = append(out, st)
		}
	}
	return out
}

// stat reads /proc/<pid>/stat; false when the process is gone.
func stat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(b, ')')
	if err != nil || i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{pid: pid, ppid: ppid, state: f[0][0]}, true
}

// children returns the PIDs whose parent is pid, zombies included.
func children(pid int) []int {
	var out []int
	for _, p := range processes() {
		if p.ppid == pid {
			out = append(out, p.pid)
		}
	}
	return out
}

// descendants returns every process below pid, zombies included.
func descendants(pid int) []procStat {
	all := processes()
	below := map[int]bool{pid: true}
	var out []procStat
	for grew := true; grew; {
		grew = false
		for _, p := range all {
			if below[p.ppid] && !below[p.pid] {
				below[p.pid], grew = true, true
				out = append(out, p)
			}
		}
	}
	return out
}

// gone tells whether pid has left the process table: not running and not a
// zombie either, so its parent has reaped it.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitFor polls cond every 5ms until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// pair is the token pair of login and refresh.
type pair struct {
	Access  string `json:"accessToken"`
	Refresh string `json:"refreshToken"`
}

// answer is a response read whole.
type answer struct {
	status int
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
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return answer{status: resp.StatusCode, body: string(b)}, err
}

// login posts the login form and returns the pair, or an error saying what
// came back instead.
func login(ctx context.Context, c *http.Client, base string, form url.Values) (pair, error) {
	a, err := call(ctx, c, http.MethodPost, base+"/public/login", "", form)
	if err != nil {
		return pair{}, err
	}
	var p pair
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &p) != nil || p.Access == "" || p.Refresh == "" {
		return pair{}, fmt.Errorf("login answered %v, want 200 with a token pair", a)
	}
	return p, nil
}

// waitPing waits until GET /public/ping answers pong.
func waitPing(ctx context.Context, base string) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for {
		a, err := call(ctx, c, http.MethodGet, base+"/public/ping", "", nil)
		if err == nil && a.status == http.StatusOK && a.body == "pong" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no pong from %s: %v %v (%w)", base, a, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tail returns the end of a log file, for a failing test's output.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
