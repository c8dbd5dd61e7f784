package proc

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"
)

// Redis is a redis-server (or sentinel) child process of the test's own,
// listening on a loopback address, in a folder of its own. Set the fields,
// then Start; it can be stopped and started again on the same address.
type Redis struct {
	// Name says which server it is in failure messages.
	Name string
	// Exe is the redis-server executable.
	Exe string
	// Addr is 127.0.0.1:<port>, the address it listens on.
	Addr string
	// Dir is its working folder (--dir), which holds its log too.
	Dir string
	// Config, when not empty, is the path of a config file, given first.
	Config string
	// Args come after the listening options.
	Args []string
	// Ping, when not nil, adjusts the options of the client that waits for
	// PING (TLS, a user).
	Ping func(*redis.Options)

	t       testing.TB
	cmd     *exec.Cmd
	exited  chan struct{}
	cleanup bool
}

// LogPath is the file the server's output goes to (appended on each
// start).
func (r *Redis) LogPath() string { return filepath.Join(r.Dir, "redis.log") }

// Port is the port of Addr.
func (r *Redis) Port() int {
	_, port, _ := net.SplitHostPort(r.Addr)
	p, _ := strconv.Atoi(port)
	return p
}

// Start starts the server and waits (10s at most) until it answers PING.
// The first Start registers a cleanup that kills it: no server outlives
// its test, and it dies with the test binary too (Pdeathsig).
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.t = t
	_, port, _ := net.SplitHostPort(r.Addr)
	var argv []string
	if r.Config != "" {
		argv = append(argv, r.Config)
	}
	argv = append(argv, "--port", port, "--bind", "127.0.0.1", "--dir", r.Dir, "--daemonize", "no")
	argv = append(argv, r.Args...)
	logFile, err := os.OpenFile(r.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	r.cmd = exec.Command(r.Exe, argv...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	cmd, exited := r.cmd, r.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	if !r.cleanup {
		r.cleanup = true
		t.Cleanup(func() {
			r.Kill()
			if t.Failed() {
				r.LogTail()
			}
		})
	}

	opt := &redis.Options{Addr: r.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1}
	if r.Ping != nil {
		r.Ping(opt)
	}
	c := redis.NewClient(opt)
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		switch {
		case err == nil:
			return
		case r.Gone():
			r.LogTail()
			t.Fatalf("%s exited at start", r.Name)
		case time.Now().After(deadline):
			r.LogTail()
			t.Fatalf("%s on %s does not answer: %v", r.Name, r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Gone tells whether the server has exited (or never started).
func (r *Redis) Gone() bool {
	if r.exited == nil {
		return true
	}
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// Stop stops the server with SIGTERM (it finishes its append-only file)
// and waits until it is gone; after 5s it kills it and fails the test.
func (r *Redis) Stop() {
	r.t.Helper()
	if r.Gone() {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		r.t.Errorf("%s did not stop on SIGTERM within 5s", r.Name)
	}
}

// Kill ends the server with SIGKILL (no shutdown, no final write) and
// waits until it is reaped.
func (r *Redis) Kill() {
	if r.Gone() {
		return
	}
	_ = r.cmd.Process.Kill()
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.t.Errorf("%s (PID %d) not reaped 5s after SIGKILL", r.Name, r.cmd.Process.Pid)
	}
}

// LogTail writes the end of the server's log to the test log.
func (r *Redis) LogTail() {
	r.t.Logf("%s log (tail):\n%s", r.Name, TailFile(r.LogPath(), 3000))
}

// Client is a go-redis client of the test's own on the server (closed at
// cleanup).
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}
