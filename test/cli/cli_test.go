// Package cli drives the operator command line of the built binary (`go-jwt
// user ...`, SPEC §10) against a real Redis (REDIS_TEST_ADDR; CI sets it)
// that the service, also the built binary, serves from at the same time:
// each change must show at the user's next request to the running service.
package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/test/proc"
)

var build = &proc.Build{Prefix: "go-jwt-cli-"}

func TestMain(m *testing.M) { proc.Main(m, build) }

// db is the Redis database of this package's tests: the user index and the
// admin registry are shared by every user, so the tests empty it first.
const db = "13"

// rig is the environment shared by the command line and the service.
type rig struct {
	t    *testing.T
	bin  string
	env  []string
	base string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	addr := proc.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 13})
	defer func() { _ = c.Close() }()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, bin: build.Binary(t)}
	for k, v := range map[string]string{
		"REDIS_ADDR": addr, "REDIS_DB": db, "JWT_SECRET": proc.RandomHex(t, 32), "DEMO_USER": "off",
		"ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME": "1", "PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"),
	} {
		r.env = append(r.env, k+"="+v)
	}
	return r
}

// serve starts the service binary on the rig's Redis and waits for it.
func (r *rig) serve() {
	r.t.Helper()
	addr := proc.FreeAddr(r.t)
	r.base = "http://" + addr
	logPath := filepath.Join(r.t.TempDir(), "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(r.bin)
	cmd.Env = append(slices.Clone(r.env), "APP_ADDR="+addr, "GO_JWT_INIT=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if r.t.Failed() {
			r.t.Logf("service log:\n%s", proc.TailFile(logPath, 3000))
		}
	})
	if !proc.Poll(10*time.Second, 50*time.Millisecond, func() bool { return r.call("GET", "/public/ping", "", nil).Status == 200 }) {
		r.t.Fatalf("the service did not answer:\n%s", proc.TailFile(logPath, 3000))
	}
}

// run runs `go-jwt user args...` with stdin; its exit code and output.
func (r *rig) run(stdin string, args ...string) (code int, stdout, stderr string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"user"}, args...)...)
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errorsAs(err, &exit):
		code = exit.ExitCode()
	default:
		r.t.Fatalf("go-jwt user %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its standard output.
func (r *rig) ok(stdin string, args ...string) string {
	r.t.Helper()
	code, out, errOut := r.run(stdin, args...)
	if code != 0 {
		r.t.Fatalf("go-jwt user %v: exit %d, %s", args, code, errOut)
	}
	return out
}

// fails runs a command that must exit 1 with exactly one line on standard
// error (and nothing on standard output) holding want; it returns the line.
func (r *rig) fails(want, stdin string, args ...string) string {
	r.t.Helper()
	code, out, errOut := r.run(stdin, args...)
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
		r.t.Fatalf("go-jwt user %v: exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q", args, code, out, errOut, want)
	}
	return errOut
}

func (r *rig) call(method, path, token string, form url.Values) proc.Answer {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := proc.Call(ctx, http.DefaultClient, method, r.base+path, token, form)
	if err != nil {
		return proc.Answer{}
	}
	return a
}

func (r *rig) login(user, password string) (proc.Pair, int) {
	r.t.Helper()
	a := r.call("POST", "/public/login", "", url.Values{"username": {user}, "password": {password}})
	var p proc.Pair
	if a.Status == 200 {
		if err := json.Unmarshal([]byte(a.Body), &p); err != nil {
			r.t.Fatal(err)
		}
	}
	return p, a.Status
}

func roles(t *testing.T, token string) []string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	var c struct{ Roles []string }
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c.Roles
}
