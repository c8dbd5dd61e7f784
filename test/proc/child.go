package proc

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// NeedExe returns the path of the executable name (Debian's nginx,
// redis-server …). Without one the test is skipped, except in CI
// (CI=true), where a missing package is a failure: .ci/run installs it.
func NeedExe(t testing.TB, name string) string {
	t.Helper()
	exe, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} { // not on a user's PATH
			if exe, err = exec.LookPath(dir + "/" + name); err == nil {
				return exe
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI requires it: .ci/run installs it): %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return exe
}

// Child is a server process of the test's own (the service, nginx), its
// output in a log file, in a process group of its own.
type Child struct {
	// Name says which process it is in failure messages.
	Name string
	// LogPath receives its output.
	LogPath string

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartChild starts cmd with its output in logPath. Cleanup kills its whole
// process group (and it dies with the test binary: Pdeathsig), and writes
// the end of its log when the test failed.
func StartChild(t testing.TB, name string, cmd *exec.Cmd, logPath string) *Child {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := &Child{Name: name, LogPath: logPath, t: t, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, TailFile(logPath, 3000))
		}
	})
	return c
}

// Kill ends the whole process group with SIGKILL and waits until the
// process is reaped.
func (c *Child) Kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.t.Errorf("%s (PID %d) not reaped 5s after SIGKILL", c.Name, c.cmd.Process.Pid)
	}
}

// WaitHTTP waits (20 s at most) until GET url answers with any status;
// the test fails if the process exits first or the time runs out.
func (c *Child) WaitHTTP(url string) {
	c.t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, err := Call(ctx, client, http.MethodGet, url, "", nil)
		if err == nil {
			return
		}
		select {
		case <-c.exited:
			c.t.Fatalf("%s exited at start:\n%s", c.Name, TailFile(c.LogPath, 3000))
		case <-ctx.Done():
			c.t.Fatalf("%s does not answer %s: %v\n%s", c.Name, url, err, TailFile(c.LogPath, 3000))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
