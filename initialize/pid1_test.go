package initialize

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestSetEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"added when absent", []string{"A=1"}, []string{"A=1", "K=v"}},
		{"replaces an earlier value", []string{"K=old", "A=1"}, []string{"A=1", "K=v"}},
		{"replaces an empty value", []string{"K=", "A=1"}, []string{"A=1", "K=v"}},
		{"leaves a longer name alone", []string{"KK=1"}, []string{"KK=1", "K=v"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := setEnv(tc.env, "K", "v"); !slices.Equal(got, tc.want) {
				t.Errorf("setEnv(%q) = %q, want %q", tc.env, got, tc.want)
			}
		})
	}
}

// startTree starts sh with a sleep below it and returns both PIDs once
// /proc shows the sleep.
func startTree(t *testing.T) (shell, sleep int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh to start: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		procs, err := descendants(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.pid != cmd.Process.Pid {
				return cmd.Process.Pid, p.pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the sleep below sh never showed in /proc")
	return 0, 0
}

func TestDescendantsFindsGrandchildren(t *testing.T) {
	shell, sleep := startTree(t)
	procs, err := descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.pid)
	}
	if !slices.Contains(pids, shell) || !slices.Contains(pids, sleep) {
		t.Errorf("descendants = %v, want the shell %d and its sleep %d", pids, shell, sleep)
	}
	if below, _ := descendants(sleep); len(below) != 0 {
		t.Errorf("descendants of the sleep = %v, want none", below)
	}
}

func TestCurrentServer(t *testing.T) {
	_, sleep := startTree(t)
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, strconv.Itoa(len(content))+".pid")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pidFile string
		want    int
	}{
		{"the process PID_FILE names", write(strconv.Itoa(os.Getpid()) + "\n"), os.Getpid()},
		{"newest descendant when PID_FILE names a dead process", write(strconv.Itoa(dead.Process.Pid) + "\n\n"), sleep},
		{"newest descendant when PID_FILE holds garbage", write("garbage"), sleep},
		{"newest descendant when PID_FILE is missing", filepath.Join(dir, "missing.pid"), sleep},
		{"newest descendant without PID_FILE", "", sleep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &pid1{pidFile: tc.pidFile}
			pid, ready := in.current()
			if pid != tc.want {
				t.Errorf("current() = %d, want %d", pid, tc.want)
			}
			// Ready a settling time after it was named, never later than that
			// from now.
			if ready.IsZero() || time.Until(ready) > procSettle {
				t.Errorf("ready at %v (in %v), want within %v", ready, time.Until(ready), procSettle)
			}
		})
	}
}
