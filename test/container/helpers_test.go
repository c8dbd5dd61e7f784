package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// build is the binary under test, built once per test run exactly as the
// Dockerfile builds it: static, trimmed, stamped with version "test".
var build = &proc.Build{
	Prefix:  "go-jwt-container-",
	Flags:   []string{"-trimpath", "-ldflags", "-s -w -X main.version=test"},
	Package: ".",
	Env:     []string{"CGO_ENABLED=0"},
}

func TestMain(m *testing.M) { proc.Main(m, build) }

// unavailable skips the test when the machine cannot run it, except in CI
// (CI=true), where the machine is expected to and it is a failure.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
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

// login posts the login form and returns the pair, or an error saying what
// came back instead.
func login(ctx context.Context, c *http.Client, base string, form url.Values) (proc.Pair, error) {
	a, err := proc.Call(ctx, c, http.MethodPost, base+"/public/login", "", form)
	if err != nil {
		return proc.Pair{}, err
	}
	var p proc.Pair
	if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &p) != nil || p.Access == "" || p.Refresh == "" {
		return proc.Pair{}, fmt.Errorf("login answered %v, want 200 with a token pair", a)
	}
	return p, nil
}

// waitPing waits until GET /public/ping answers pong.
func waitPing(ctx context.Context, base string) error {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for {
		a, err := proc.Call(ctx, c, http.MethodGet, base+"/public/ping", "", nil)
		if err == nil && a.Status == http.StatusOK && a.Body == "pong" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no pong from %s: %v %v (%w)", base, a, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
