package initialize

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fvbock/endless"

	"go-jwt/global"
)

// serverLimits are the connections' time limits (watchdog.go): a slow or
// idle client cannot hold a connection (and, during a restart, the old
// process) for long.
var serverLimits = connLimits{
	header: 5 * time.Second,  // to a request's complete header
	active: 15 * time.Second, // from it to the end of the response
	idle:   60 * time.Second, // between requests
	tick:   500 * time.Millisecond,
}

// pprofLimits are the pprof listener's (PPROF_ADDR, an operator's tool, on
// loopback unless told otherwise): a CPU profile or an execution trace is
// one request that lasts as long as it was asked to (go tool pprof asks for
// 30 s), so a request there may run for 5 minutes. Its header and idle
// limits are those of every listener.
var pprofLimits = connLimits{header: serverLimits.header, active: 5 * time.Minute, idle: serverLimits.idle,
	tick: serverLimits.tick}

// Server limits.
const (
	maxHeaderBytes = 16 << 10
	// hammerTime is how long a draining process waits for its connections
	// before it closes them by force.
	hammerTime = 30 * time.Second
	// closeNotice is how long a process told to stop (SIGTERM, also sent by
	// the process that replaced it after a SIGHUP) keeps serving with
	// "Connection: close" on every answer before endless closes its idle
	// keep-alive connections. Closing an idle connection races with a client
	// that is sending on it: a POST fails, and a GET is re-sent by the client
	// even though the server may have run it (a refresh then counts as reuse
	// and revokes the session). Told first, busy clients drop their
	// connections themselves.
	closeNotice = 500 * time.Millisecond
)

// Serve serves h on cfg.Addr under endless, its connections held to limits
// (serverLimits, or pprofLimits on the pprof listener), and returns once
// this process has drained after SIGTERM/SIGINT or handed over after
// SIGHUP. flush writes out the buffered log: it runs as each of those
// signals arrives, so the lines of this process come before those of the
// one that replaces it (the caller flushes again once Serve returns).
func Serve(cfg global.Config, h http.Handler, limits connLimits, log *slog.Logger, flush func()) error {
	endless.DefaultHammerTime = hammerTime
	var closing atomic.Bool
	// The connections' time limits are the watchdog's (watchdog.go), not
	// net/http's: endless's own defaults for them are zero, and stay so.
	wd := startWatchdog(limits)
	defer wd.close()
	srv := endless.NewServer(cfg.Addr, wd.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if closing.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})))
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return wd.connContext(quietContext(ctx, c), c)
	}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		quietState(c, s)
		wd.connState(c, s)
	}
	// The listener is quiet (quietconn.go) while endless serves it.
	quiet := newQuietEndless(func() net.Listener { return srv.EndlessListener },
		func(l net.Listener) { srv.EndlessListener = l })
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		// Runs before endless's own shutdown, on its signal goroutine.
		if err := srv.RegisterSignalHook(endless.PRE_SIGNAL, sig, func() {
			quiet.settle(time.Second)
			flush()
			if !closing.Swap(true) {
				time.Sleep(closeNotice)
			}
		}); err != nil {
			return err
		}
	}
	// Before the fork: the new process writes to the same stderr.
	if err := srv.RegisterSignalHook(endless.PRE_SIGNAL, syscall.SIGHUP, func() {
		quiet.settle(time.Second) // endless hands its own listener's socket over
		flush()
	}); err != nil {
		return err
	}
	srv.MaxHeaderBytes = maxHeaderBytes
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	serving := false
	srv.BeforeBegin = func(addr string) {
		serving = true
		quiet.wrap()
		log.Info("listening", "addr", addr, "pid", os.Getpid())
	}
	// Written before ListenAndServe, where a restarted process tells its
	// parent to drain: the file names the new process before the old one ends,
	// so systemd (PIDFile=) always finds a live main process.
	if err := writePIDFile(cfg.PIDFile); err != nil {
		return fmt.Errorf("PID_FILE: cannot write %s: %v", cfg.PIDFile, err)
	}
	err := srv.ListenAndServe()
	removePIDFile(cfg.PIDFile)
	if !serving {
		return fmt.Errorf("APP_ADDR: cannot listen on %s: %v", cfg.Addr, err)
	}
	// After a drain, Serve reports the closed listener: that is the normal end.
	log.Info("stopped", "pid", os.Getpid())
	return nil
}

// writePIDFile records this process as the serving one. Each restarted
// process overwrites it, atomically, so readers never see half a number.
func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pid-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(strconv.Itoa(os.Getpid()) + "\n"); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// World-readable like every PID file: scripts and systemd read it.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { //nolint:gosec
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// removePIDFile removes the PID file if it still names this process (after a
// restart it names the new one and stays).
func removePIDFile(path string) {
	if path == "" {
		return
	}
	b, err := os.ReadFile(path) //nolint:gosec // the operator's own PID_FILE
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(path)
	}
}

// Healthcheck GETs /healthz on this host's APP_ADDR port: the container's
// HEALTHCHECK (distroless has no curl). It returns nil on a 200.
func Healthcheck(getenv func(string) string) error {
	addr := getenv("APP_ADDR")
	if addr == "" {
		addr = ":9090"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("APP_ADDR: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %s", resp.Status)
	}
	return nil
}
