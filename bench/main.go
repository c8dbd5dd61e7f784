// Command bench measures the service end to end on this machine: it builds
// the binary, starts its own redis-server and the service on loopback ports,
// drives bounded load at ping, welcome, refresh and login, and prints req/s,
// p50, p99, each route's ratio to ping, and Redis memory per live session.
//
//	go run ./bench            # full run (about a minute)
//	go run ./bench -short     # a few seconds: proves it works (CI)
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/google/uuid"

	"go-jwt/utils"
)

const secret = "bench-secret-bench-secret-bench-secret"

// profileDir, when set, receives one CPU profile of the service per route
// (go tool pprof <binary> <file>); pprofAddr is where the service serves it.
var profileDir, pprofAddr string

func main() {
	short := flag.Bool("short", false, "a quick run that only proves the benchmark works")
	duration := flag.Duration("duration", 8*time.Second, "how long each route is loaded")
	conns := flag.Int("conns", 32, "concurrent connections")
	sessions := flag.Int("sessions", 100000, "sessions created to measure Redis memory")
	flag.StringVar(&profileDir, "profile", "", "save a CPU profile of the service per route in this folder")
	flag.Parse()
	if *short {
		*duration, *conns, *sessions = time.Second, 8, 2000
	}
	if err := run(*duration, *conns, *sessions); err != nil {
		log.Fatal("bench: ", err)
	}
}

func run(duration time.Duration, conns, sessions int) error {
	dir, err := os.MkdirTemp("", "go-jwt-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	bin := filepath.Join(dir, "go-jwt")
	if profileDir != "" { // the profiles are read against this binary
		bin = filepath.Join(profileDir, "go-jwt")
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = moduleRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}

	redisAddr := freeAddr()
	rs := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port(redisAddr), "--save", "", "--appendonly", "no", "--dir", dir)
	if err := rs.Start(); err != nil {
		return fmt.Errorf("redis-server (apt-get install redis-server): %w", err)
	}
	defer stop(rs)
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer func() { _ = rdb.Close() }()
	if err := waitFor(func() error { return rdb.Ping(context.Background()).Err() }); err != nil {
		return fmt.Errorf("redis: %w", err)
	}

	appAddr := freeAddr()
	pprofAddr = freeAddr()
	logFile, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		return err
	}
	svc := exec.Command(bin)
	svc.Env = append(os.Environ(), "APP_ADDR="+appAddr, "REDIS_ADDR="+redisAddr, "JWT_SECRET="+secret,
		"GIN_MODE=release", "DEMO_USER=bench:bench-password", "PPROF_ADDR="+pprofAddr, "GO_JWT_INIT=off",
		"LOGIN_USER_RATE=1000000", "LOGIN_USER_BURST=1000000", "LOGIN_IP_RATE=1000000", "LOGIN_IP_BURST=1000000")
	svc.Stdout, svc.Stderr = logFile, logFile
	if err := svc.Start(); err != nil {
		return err
	}
	defer stop(svc)
	if err := waitFor(func() error {
		c, err := dial(appAddr)
		if err == nil {
			c.close()
		}
		return err
	}); err != nil {
		return fmt.Errorf("service did not start (log: %s): %w", logFile.Name(), err)
	}

	fmt.Printf("machine: %s/%s, %d cores, %s; load: %d connections, %v per route\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), conns, duration)
	results := []result{
		load("ping", appAddr, conns, duration, nil, pingOp),
		load("welcome", appAddr, conns, duration, loginSetup, welcomeOp),
		dpopWelcome(appAddr, rdb, conns, duration, false), // bench/dpop.go: ES256 proofs
		dpopWelcome(appAddr, rdb, conns, duration, true),  // EdDSA proofs
		load("refresh", appAddr, conns, duration, loginSetup, refreshOp),
		load("login", appAddr, min(conns, 4), duration, nil, loginOp),
	}
	ping := results[0]
	fmt.Printf("%-8s %10s %10s %10s %10s %8s\n", "route", "req/s", "p50", "p99", "×ping", "errors")
	for _, r := range results {
		fmt.Printf("%-8s %10.0f %10v %10v %10.2f %8d\n", r.name, r.rps, r.p50, r.p99, r.rps/ping.rps, r.errors)
	}
	login, hash, err := loginVersusHash(appAddr, 40)
	if err != nil {
		return err
	}
	fmt.Printf("\nlogin alone: p50 %v; the password hash alone: p50 %v; overhead beyond the hash: %.1f%%\n",
		login, hash, 100*(float64(login)/float64(hash)-1))

	perSession, err := memoryPerSession(rdb, sessions)
	if err != nil {
		return err
	}
	fmt.Printf("redis memory per live session: %.0f bytes (INFO used_memory growth over %d sessions of %d existing accounts)\n", perSession, sessions, sessions)
	for _, r := range results {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d failed requests (first: %v)", r.name, r.errors, r.firstErr)
		}
	}
	return nil
}

// result is one route's measurement.
type result struct {
	name     string
	rps      float64
	p50, p99 time.Duration
	errors   int
	firstErr error
}

// worker state: a connection and, for token routes, its tokens.
type worker struct {
	c                 *conn
	accessH, refreshH []string
}

type op func(w *worker) error

func load(name, addr string, conns int, d time.Duration, setup, do op) result {
	var mu sync.Mutex
	var lat []time.Duration
	res := result{name: name}
	// Every connection is dialled and set up (its login) before the clock
	// starts, so the window measures the route alone.
	workers := make([]*worker, 0, conns)
	for range conns {
		c, err := dial(addr)
		if err == nil {
			w := &worker{c: c}
			if setup != nil {
				err = setup(w)
			}
			workers = append(workers, w)
		}
		if err != nil {
			res.errors++
			res.firstErr = err
		}
	}
	defer func() {
		for _, w := range workers {
			w.c.close()
		}
	}()
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	if profileDir != "" && d >= 2*time.Second {
		wg.Go(func() { profile(name, d-time.Second) })
	}
	for _, w := range workers {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1<<16)
			var errs int
			var first error
			for time.Now().Before(deadline) {
				start := time.Now()
				if err := do(w); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) > 0 {
		res.rps = float64(len(lat)) / d.Seconds()
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[len(lat)*99/100]
	}
	return res
}

// profile saves a CPU profile of the service taken over d.
func profile(name string, d time.Duration) {
	client := &http.Client{Timeout: d + 10*time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds())))
	if err != nil {
		log.Printf("profile %s: %v", name, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(profileDir, name+".prof"), body, 0o644)
	}
	if err != nil {
		log.Printf("profile %s: %v", name, err)
	}
}

var loginBody = []byte("username=bench&password=bench-password")
var formHeader = []string{"Content-Type: application/x-www-form-urlencoded"}

func pingOp(w *worker) error { return expect(w.c.do("GET", "/public/ping", nil, nil)) }

func loginOp(w *worker) error { return expect(w.c.do("POST", "/public/login", formHeader, loginBody)) }

func loginSetup(w *worker) error {
	status, body, err := w.c.do("POST", "/public/login", formHeader, loginBody)
	if err := expect(status, body, err); err != nil {
		return err
	}
	return w.take(body)
}

// take keeps the tokens of a pair answer. It cuts them out of the JSON
// rather than decoding it: the generator shares the CPU with the service,
// so its own work must stay small.
func (w *worker) take(body []byte) error {
	access, ok1 := field(body, `"accessToken":"`)
	refresh, ok2 := field(body, `"refreshToken":"`)
	if !ok1 || !ok2 {
		return fmt.Errorf("not a token pair: %s", body)
	}
	w.accessH = []string{"Authorization: Bearer " + access}
	w.refreshH = []string{"Authorization: Bearer " + refresh}
	return nil
}

func field(body []byte, prefix string) (string, bool) {
	i := bytes.Index(body, []byte(prefix))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(prefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func welcomeOp(w *worker) error { return expect(w.c.do("GET", "/user/welcome", w.accessH, nil)) }

func refreshOp(w *worker) error {
	status, body, err := w.c.do("GET", "/public/refresh", w.refreshH, nil)
	if err := expect(status, body, err); err != nil {
		return err
	}
	return w.take(body)
}

func expect(status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("status %d: %s", status, body)
	}
	return nil
}

// loginVersusHash times n logins over one connection, one at a time, and n
// password checks at the service's default parameters in this process,
// interleaved so that both see the same machine: the hash is the floor
// under a login, and the difference is what the service adds.
func loginVersusHash(addr string, n int) (login, hash time.Duration, err error) {
	h, err := utils.NewHasher(utils.Argon2Params{Memory: 19456, Time: 2, Threads: 1}, 1, time.Second)
	if err != nil {
		return 0, 0, err
	}
	enc, err := h.Hash(context.Background(), "bench-password")
	if err != nil {
		return 0, 0, err
	}
	c, err := dial(addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	var logins, hashes []time.Duration
	for range n {
		start := time.Now()
		if err := loginOp(&worker{c: c}); err != nil {
			return 0, 0, err
		}
		logins = append(logins, time.Since(start))
		start = time.Now()
		if _, _, err := h.Verify(context.Background(), enc, "bench-password"); err != nil {
			return 0, 0, err
		}
		hashes = append(hashes, time.Since(start))
	}
	slices.Sort(logins)
	slices.Sort(hashes)
	return logins[n/2], hashes[n/2], nil
}

// memoryPerSession creates n accounts, then one session for each the way
// login does, and divides Redis's used_memory growth over the sessions by n:
// the cost of a live session, its index entry included, on top of the
// account it belongs to.
func memoryPerSession(rdb *redis.Client, n int) (float64, error) {
	ctx := context.Background()
	now := time.Now
	users := utils.NewUsers(rdb)
	hasher, err := utils.NewHasher(utils.Argon2Params{Memory: 1024, Time: 1, Threads: 1}, 1, time.Second)
	if err != nil {
		return 0, err
	}
	hash, err := hasher.Hash(ctx, "not-measured")
	if err != nil {
		return 0, err
	}
	for i := range n {
		if err := users.Create(ctx, "user"+strconv.Itoa(i), hash, now()); err != nil {
			return 0, err
		}
	}
	before, err := usedMemory(rdb)
	if err != nil {
		return 0, err
	}
	codec := utils.NewJWT([]byte(secret), "jwt-demo", 15*time.Minute, 168*time.Hour, 720*time.Hour, now)
	store := utils.NewSessions(ctx, rdb, 50, 0, now)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < n; i += 16 {
				p, err := codec.Issue("user"+strconv.Itoa(i), uuid.NewString(), now())
				if err == nil {
					err = store.Create(ctx, &p, utils.Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	after, err := usedMemory(rdb)
	return float64(after-before) / float64(n), err
}

func usedMemory(rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
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
