package process

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// In release mode the access log is buffered (utils/logbuf): these tests
// prove, on the built binary, that it is flushed on its interval, on a
// SIGTERM drain and on a SIGHUP hand-over, so a clean stop loses no line.

// releaseService starts the service as operators run it: GIN_MODE=release,
// JSON log to a file.
func releaseService(t *testing.T) *service {
	env := serviceEnv(t, proc.RedisAddr(t))
	env["GIN_MODE"] = "release"
	return startService(t, env)
}

// pings sends n pings, each with its own X-Request-ID (prefix-i), and
// fails the test unless each answers pong.
func pings(ctx context.Context, t *testing.T, s *service, prefix string, n int) []string {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/public/ping", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-ID", ids[i])
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ping: %d", resp.StatusCode)
		}
	}
	return ids
}

// missingLines returns the ids that have no access line in the log.
func (s *service) missingLines(ids []string) []string {
	var missing []string
	for _, id := range ids {
		if len(s.grepLog(1, `"msg":"request"`, `"request_id":"`+id+`"`)) == 0 {
			missing = append(missing, id)
		}
	}
	return missing
}

func TestAccessLogFlushedOnSIGTERM(t *testing.T) {
	s := releaseService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := pings(ctx, t, s, "term", 200)
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		t.Fatal("no exit after SIGTERM")
	}
	if s.waitErr != nil {
		t.Fatalf("exit: %v", s.waitErr)
	}
	if missing := s.missingLines(ids); len(missing) > 0 {
		t.Fatalf("after SIGTERM the log lacks %d of %d access lines (first %q)", len(missing), len(ids), missing[0])
	}
	if got := s.grepLog(1, `"msg":"stopped"`); len(got) == 0 {
		t.Fatal("no stopped line")
	}
}

func TestAccessLogFlushedOnSIGHUPHandOver(t *testing.T) {
	s := releaseService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := s.cmd.Process.Pid
	ids := pings(ctx, t, s, "hup", 200)
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if _, err := s.waitNewPID(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := waitGone(ctx, old); err != nil {
		t.Fatalf("the old process did not end: %v", err)
	}
	// The new process is still running: the old one's lines are all there
	// even before anything else is flushed.
	if missing := s.missingLines(ids); len(missing) > 0 {
		t.Fatalf("after the hand-over the log lacks %d of %d access lines of the old process (first %q)", len(missing), len(ids), missing[0])
	}
}

func TestAccessLogFlushedWhileRunning(t *testing.T) {
	s := releaseService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := pings(ctx, t, s, "tick", 20)
	// No signal: only the flush interval (one second) can write them. The
	// deadline bounds the test; it does not measure the interval.
	for missing := s.missingLines(ids); len(missing) > 0; missing = s.missingLines(ids) {
		select {
		case <-ctx.Done():
			t.Fatalf("lines never flushed while running: %d missing", len(missing))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if strings.Contains(strings.Join(s.grepLog(1000, `"msg":"request"`), "\n"), "Authorization") {
		t.Fatal("a header reached the access log")
	}
}
