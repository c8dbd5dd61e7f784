package process

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// sighup restarts the service once under load l: SIGHUP to pid, then it
// waits until a new process serves, pid has exited and the port answers.
// It returns the new PID.
func sighup(ctx context.Context, t *testing.T, s *service, l *load, i, pid int) int {
	t.Helper()
	l.setPhase(fmt.Sprintf("SIGHUP #%d sent to PID %d", i, pid))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP #%d to %d: %v", i, pid, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	next, err := s.waitNewPID(wctx, pid)
	if err == nil {
		err = waitGone(wctx, pid)
	}
	if err == nil {
		err = s.waitPing(wctx, nil)
	}
	if err != nil {
		t.Fatalf("restart #%d: %v", i, err)
	}
	l.setPhase(fmt.Sprintf("after restart #%d (PID %d serving)", i, next))
	return next
}

// TestTenSIGHUPsUnderLoad restarts the service ten times while 32 clients
// log in, call welcome, rotate and log out in a loop (the load of
// TestSIGHUPUnderLoad, twice the clients): no request may fail, every old
// process must exit, and a token issued before the first restart must work
// after each one.
func TestTenSIGHUPsUnderLoad(t *testing.T) {
	const (
		clients = 32
		sighups = 10
	)
	// serviceEnv gives a user of this test's own and MAX_SESSIONS=10000:
	// the load opens a few thousand sessions, and the cap must not evict the
	// early one.
	s := startService(t, serviceEnv(t, proc.RedisAddr(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	first := s.cmd.Process.Pid
	probe := &http.Client{Timeout: 5 * time.Second}
	defer probe.CloseIdleConnections()
	early := s.login(ctx, t, probe)

	l := newLoad(ctx, s)
	l.start(clients)
	defer l.finish()
	l.setPhase(fmt.Sprintf("before SIGHUP #1 (PID %d)", first))
	l.waitProgress(t, phaseRequests)

	started := time.Now()
	pids := []int{first}
	for i := 1; i <= sighups; i++ {
		pid := sighup(ctx, t, s, l, i, pids[len(pids)-1])
		pids = append(pids, pid)
		probe.CloseIdleConnections() // a new connection: to the new process
		s.welcome(ctx, t, probe, early.Access)
		l.waitProgress(t, phaseRequests)
	}
	l.finish()
	t.Logf("%d restarts in %v (PIDs %v); load: %d requests answered as expected, %d failed (%d re-sent by the transport)",
		sighups, time.Since(started).Round(time.Millisecond), pids, l.ok.Load(), l.failed.Load(), l.resent.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed; the first ones:\n%s", n, strings.Join(l.firstFailures(), "\n"))
		if warn := s.grepLog(10, "level=WARN"); len(warn) > 0 {
			t.Logf("the service's warnings:\n%s", strings.Join(warn, "\n"))
		}
	}

	// The first process is the test's child: it drained and exited 0.
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("first process (PID %d) ended with %v, want exit status 0", first, s.waitErr)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("first process (PID %d) not reaped", first)
	}
	// No process but the last is left, whether PID_FILE or the log named it.
	last := pids[len(pids)-1]
	s.scanLog()
	s.mu.Lock()
	var leaked []int
	for pid := range s.pids {
		if pid != last && alive(pid) && s.isOurs(pid) {
			leaked = append(leaked, pid)
		}
	}
	s.mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("processes still running besides the current one (%d): %v", last, leaked)
	}
	if cur, err := s.readPID(); err != nil || cur != last {
		t.Errorf("PID_FILE names %d (%v), want the last process %d", cur, err, last)
	}

	if err := syscall.Kill(last, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	defer gcancel()
	if err := waitGone(gctx, last); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PID_FILE after the last process ended: %v, want it removed", err)
	}
}
