package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"
)

// rig is what one run starts: redis-server, the service and bare gin.
type rig struct {
	rdb                          *redis.Client
	appAddr, bareAddr, pprofAddr string
	logPath                      string
	procs                        []*exec.Cmd
	appPID, barePID, redisPID    int
	versusAddr                   string // the -versus build's ("": none)
	versusPID                    int
	// window is how long each route is loaded (DPoP proofs are signed
	// ahead for it).
	window time.Duration
}

// startRig builds the service and bare gin into binDir and starts them and
// a redis-server (its files in dir). With profiling the service serves
// pprof; without, no listener it would not have in production. A versus
// binary runs beside the service, as it does, on the same Redis.
func startRig(dir, binDir string, profiling bool, versus string) (*rig, error) {
	root := moduleRoot()
	bin, bare := filepath.Join(binDir, "go-jwt"), filepath.Join(binDir, "baregin")
	for out, pkg := range map[string]string{bin: ".", bare: "./bench/baregin"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	r := &rig{}
	redisAddr := freeAddr()
	rs := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port(redisAddr), "--save", "", "--appendonly", "no", "--dir", dir)
	dieWithBench(rs)
	if err := rs.Start(); err != nil {
		return nil, fmt.Errorf("redis-server (apt-get install redis-server): %w", err)
	}
	r.procs = append(r.procs, rs)
	r.redisPID = rs.Process.Pid
	r.rdb = redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := waitFor(func() error { return r.rdb.Ping(context.Background()).Err() }); err != nil {
		r.stop()
		return nil, fmt.Errorf("redis: %w", err)
	}

	r.appAddr, r.bareAddr = freeAddr(), freeAddr()
	r.logPath = filepath.Join(dir, "service.log")
	logFile, err := os.Create(r.logPath)
	if err != nil {
		r.stop()
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	svc := exec.Command(bin)
	svc.Env = append(os.Environ(), "APP_ADDR="+r.appAddr, "REDIS_ADDR="+redisAddr, "JWT_SECRET="+secret, "DATA_KEY="+dataKey,
		"GIN_MODE=release", "DEMO_USER=bench:bench-password", "GO_JWT_INIT=off",
		"LOGIN_USER_RATE=1000000", "LOGIN_USER_BURST=1000000", "LOGIN_IP_RATE=1000000", "LOGIN_IP_BURST=1000000")
	if profiling {
		r.pprofAddr = freeAddr()
		svc.Env = append(svc.Env, "PPROF_ADDR="+r.pprofAddr)
	}
	// The service logs to stderr (operators' journald or container runtime
	// collects it); here it goes to a file, as it would to a pipe.
	svc.Stdout, svc.Stderr = logFile, logFile
	procs := []*exec.Cmd{svc}
	if versus != "" {
		r.versusAddr = freeAddr()
		vs := exec.Command(versus)
		vs.Env = append(slices.Clone(svc.Env), "APP_ADDR="+r.versusAddr) // the last one counts
		vs.Stdout, vs.Stderr = logFile, logFile
		procs = append(procs, vs)
	}
	bareCmd := exec.Command(bare, r.bareAddr)
	bareCmd.Env = append(os.Environ(), "GIN_MODE=release")
	bareCmd.Stdout, bareCmd.Stderr = logFile, logFile
	for _, c := range append(procs, bareCmd) {
		dieWithBench(c)
		if err := c.Start(); err != nil {
			r.stop()
			return nil, err
		}
		r.procs = append(r.procs, c)
	}
	r.appPID, r.barePID = svc.Process.Pid, bareCmd.Process.Pid
	addrs := []string{r.appAddr, r.bareAddr}
	if versus != "" {
		r.versusPID = procs[1].Process.Pid
		addrs = append(addrs, r.versusAddr)
	}
	for _, addr := range addrs {
		if err := waitFor(func() error {
			c, err := dial(addr)
			if err == nil {
				c.close()
			}
			return err
		}); err != nil {
			r.stop()
			return nil, fmt.Errorf("%s did not start (log: %s): %w", addr, r.logPath, err)
		}
	}
	return r, nil
}

// stop ends what the rig started, the service first (it drains and flushes
// its log).
func (r *rig) stop() {
	if r.rdb != nil {
		_ = r.rdb.Close()
	}
	for i := len(r.procs) - 1; i >= 0; i-- {
		stop(r.procs[i])
	}
}

// registerUsers registers n accounts, one for each connection of the token
// routes, so no user goes past MAX_SESSIONS in a run.
func (r *rig) registerUsers(n int) ([]string, error) {
	c, err := dial(r.appAddr)
	if err != nil {
		return nil, err
	}
	defer c.close()
	users := make([]string, n)
	for i := range users {
		users[i] = "bench-" + strconv.Itoa(i)
		status, body, err := c.do("POST", "/public/register", formHeader, []byte("username="+users[i]+"&password=bench-password"))
		if err == nil && status != 201 {
			err = fmt.Errorf("register: status %d: %s", status, body)
		}
		if err != nil {
			return nil, err
		}
	}
	return users, nil
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func waitFor(f func() error) error {
	var err error
	for range 100 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

func stop(c *exec.Cmd) {
	_ = c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.Process.Kill()
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}
