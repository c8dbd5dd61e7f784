package initialize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go-jwt/global"
)

// InitEnv turns the PID-1 init mode off when set to "off". The init sets it
// for the server it starts (which is then not PID 1 anyway, nor are the
// processes endless restarts start, since they inherit it); an operator who
// puts another init in front (tini, docker run --init) may set it too.
const InitEnv = "GO_JWT_INIT"

const (
	// A SIGHUP goes to a server only a moment after it became the current
	// one: endless installs its signal handler just after the PID file is
	// written, and a SIGHUP before that would kill the process (Go's default
	// action). Without a PID file the process's age stands in, with margin.
	pidFileSettle = 100 * time.Millisecond
	procSettle    = time.Second
	// A stop signal is sent again to servers still running after this: a
	// server that was starting when it came ignores it (endless acts on
	// SIGTERM only once it serves) and then serves on.
	restop = time.Second
)

// ActAsInit tells whether this process must be its own init: it is PID 1, as
// a container's entrypoint is, and not the server an init started. As PID 1
// the server could not restart in place: endless's new process outlives the
// old one, and the old one's exit would end the container.
func ActAsInit(getenv func(string) string) bool {
	return os.Getpid() == 1 && getenv(InitEnv) != "off"
}

// Init is the binary's small init (SPEC §7): it starts the binary again as
// the server, forwards SIGHUP to the current server and SIGTERM/SIGINT to
// every server, reaps every process that ends (endless's old servers become
// its children once they are orphans), and returns the exit status of the
// last server once no process is left. The error is for a server that could
// not be started at all.
func Init(getenv func(string) string, stderr io.Writer) (int, error) {
	log := NewLogger(global.Config{Release: getenv("GIN_MODE") == "release"}, stderr).With("role", "init")
	exe, err := os.Executable() // needs /proc; os.Args[0] is what endless runs
	if err != nil {
		if exe, err = exec.LookPath(os.Args[0]); err != nil {
			return 1, fmt.Errorf("init: cannot find its own binary: %w", err)
		}
	}
	in := &pid1{log: log, pidFile: getenv("PID_FILE"), signaled: map[int]time.Time{}}
	env := setEnv(os.Environ(), InitEnv, "off")
	if in.pidFile == "" {
		// Each server names itself in PID_FILE before it takes over: the init
		// reads it to learn the current server. A private directory under
		// TMPDIR (distroless has a /tmp for everyone) or /dev/shm (Docker
		// mounts one even with --read-only); with neither, /proc stands in.
		for _, base := range []string{os.TempDir(), "/dev/shm"} {
			if dir, err := os.MkdirTemp(base, "go-jwt-"); err == nil {
				defer func() { _ = os.RemoveAll(dir) }()
				in.pidFile = filepath.Join(dir, "go-jwt.pid")
				env = setEnv(env, "PID_FILE", in.pidFile)
				break
			}
		}
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	// Its own binary with its own arguments, as endless re-executes it too.
	first, err := syscall.ForkExec(exe, os.Args, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}}) //nolint:gosec
	if err != nil {
		return 1, fmt.Errorf("init: cannot start the server: %w", err)
	}
	log.Info("PID 1: serving through a child; SIGHUP restarts it in place", "server", first, "pidFile", in.pidFile)

	status := 0
	var stop syscall.Signal
	tick := time.NewTicker(250 * time.Millisecond) // also reaps if a SIGCHLD was dropped
	defer tick.Stop()
	for {
		select {
		case sig := <-sigs:
			switch s := sig.(syscall.Signal); {
			case s == syscall.SIGCHLD:
			case s == syscall.SIGHUP && stop != 0:
				log.Warn("SIGHUP while stopping: ignored")
			case s == syscall.SIGHUP:
				in.restart()
			default:
				stop = s
				in.stopAll(stop)
			}
		case <-tick.C:
			if stop != 0 {
				in.stopAll(stop)
			}
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.ECHILD) {
				// Orphans are reparented to PID 1 before it hears of their
				// parent's end, so no child means no server anywhere.
				log.Info("no server left", "status", status)
				return status, nil
			}
			if err != nil || pid <= 0 {
				break
			}
			delete(in.signaled, pid)
			if ws.Exited() {
				status = ws.ExitStatus()
			} else if ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
		}
	}
}

// pid1 is the init's state between signals.
type pid1 struct {
	log      *slog.Logger
	pidFile  string
	signaled map[int]time.Time // when each server last got the stop signal
}

// restart forwards a SIGHUP to the current server, once it can take one.
func (in *pid1) restart() {
	pid, ready := in.current()
	if wait := time.Until(ready); pid > 0 && wait > 0 {
		time.Sleep(min(wait, procSettle))
		pid, _ = in.current()
	}
	if pid <= 0 {
		in.log.Warn("SIGHUP: no server found to restart")
		return
	}
	in.log.Info("SIGHUP: restarting the server", "server", pid)
	_ = syscall.Kill(pid, syscall.SIGHUP)
}

// stopAll sends sig to every server that has not had it within restop: the
// draining ones ignore it again, a new one that a restart started meanwhile
// stops too.
func (in *pid1) stopAll(sig syscall.Signal) {
	var pids []int
	procs, err := descendants(os.Getpid())
	for _, p := range procs {
		pids = append(pids, p.pid)
	}
	if err != nil { // no /proc: the PID file still names the current one
		if pid, _ := in.current(); pid > 0 {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		if at, ok := in.signaled[pid]; ok && time.Since(at) < restop {
			continue
		}
		in.signaled[pid] = time.Now()
		_ = syscall.Kill(pid, sig)
	}
}

// current returns the serving process and when it can take a SIGHUP: the
// one PID_FILE names, else the newest descendant. 0: none found.
func (in *pid1) current() (int, time.Time) {
	if in.pidFile != "" {
		b, err := os.ReadFile(in.pidFile)
		fi, serr := os.Stat(in.pidFile)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && serr == nil && perr == nil && pid > 1 && syscall.Kill(pid, 0) == nil {
			return pid, fi.ModTime().Add(pidFileSettle)
		}
	}
	procs, _ := descendants(os.Getpid())
	var newest proc
	for _, p := range procs {
		if p.start >= newest.start {
			newest = p
		}
	}
	if newest.pid == 0 {
		return 0, time.Time{}
	}
	// /proc gives the start in clock ticks since boot (USER_HZ, 100 on Linux).
	up, _ := os.ReadFile("/proc/uptime")
	secs, _ := strconv.ParseFloat(strings.Fields(string(up) + " 0")[0], 64)
	age := time.Duration((secs - float64(newest.start)/100) * float64(time.Second))
	return newest.pid, time.Now().Add(procSettle - age)
}

// proc is a process seen in /proc.
type proc struct {
	pid   int
	start uint64 // clock ticks after boot
}

// descendants lists the live (not zombie) processes below pid, from
// /proc/*/stat: /proc/<pid>/task/<tid>/children needs a kernel option that
// not every kernel has.
func descendants(pid int) ([]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]proc{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		i := bytes.LastIndexByte(b, ')') // the name, in parentheses, may hold anything
		if err != nil || i < 0 {
			continue // ended meanwhile
		}
		f := strings.Fields(string(b[i+1:])) // f[0] is field 3 of proc(5)
		if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		start, _ := strconv.ParseUint(f[19], 10, 64)
		children[ppid] = append(children[ppid], proc{pid: p, start: start})
	}
	var out []proc
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out, nil
}

// setEnv returns env with key set to value, replacing any earlier entry (the
// first of duplicates would win in the child).
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
