package process

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/test/proc"
)

// Fault injection against a real redis-server the test owns: killed under
// load, paused, out of memory. miniredis cannot do any of these faithfully
// (no SIGKILL, no CLIENT PAUSE, no maxmemory), so these tests need the real
// server: without one they skip, and in CI (CI=true or REQUIRE_REDIS=1)
// they fail.

// realRedisServer is newRedisServer without its miniredis fallback.
func realRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server is not on PATH (required in CI): %v", err)
		}
		t.Skipf("redis-server is not on PATH: %v", err)
	}
	r := newRedisServer(t)
	if r.mini != nil {
		t.Fatal("newRedisServer fell back to miniredis although redis-server is installed")
	}
	return r
}

// kill ends redis-server with SIGKILL: no shutdown, no final write. Only
// what the append-only file already holds (appendfsync always: every
// acknowledged write) survives.
func (r *redisServer) kill() {
	r.t.Helper()
	if r.real.Gone() {
		r.t.Fatal("SIGKILL redis-server: it is not running")
	}
	r.real.Kill()
	if !r.real.Gone() {
		r.t.Fatal("redis-server not reaped 5s after SIGKILL")
	}
}

// client returns a go-redis client of the test's own on r (closed at
// cleanup).
func (r *redisServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// unavailable tells whether a is SPEC §4's Redis-outage answer: 503
// {"error":"unavailable"} with Retry-After.
func unavailable(a proc.Answer) bool {
	var b struct {
		Error string `json:"error"`
	}
	return a.Status == http.StatusServiceUnavailable && json.Unmarshal([]byte(a.Body), &b) == nil &&
		b.Error == "unavailable" && a.Header.Get("Retry-After") != ""
}

// goroutines reads the service's goroutine count from pprof on addr.
func goroutines(ctx context.Context, c *http.Client, addr string) (int, error) {
	a, err := proc.Call(ctx, c, http.MethodGet, "http://"+addr+"/debug/pprof/goroutine?debug=1", "", nil)
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(a.Body, "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
	if a.Status != http.StatusOK || err != nil {
		return 0, fmt.Errorf("pprof answered %d %q", a.Status, first)
	}
	return n, nil
}

// Phases of a fault, as the clients of faultLoad see them. A request is
// judged by the phase it started in and the one it ended in: only a request
// entirely inside one settled phase has a single right answer.
const (
	phaseHealthy   int32 = iota // Redis up: 200
	phaseFaulting               // the fault is being injected: 200 or 503
	phaseDown                   // Redis known down: 503 unavailable
	phaseRestoring              // Redis coming back: 200 or 503
	phaseRecovered              // the service answered again: 200
)

var phaseNames = []string{"healthy", "faulting", "down", "restoring", "recovered"}

// faultLoad is a set of clients that each log in once and then call
// /user/welcome with that session in a loop (every fourth client also logs
// in again now and then), judging each answer by the phase.
type faultLoad struct {
	ctx   context.Context
	s     *service
	phase atomic.Int32
	stop  atomic.Bool
	wg    sync.WaitGroup
	ready sync.WaitGroup // every client holds its session

	pairs []proc.Pair // each client's session, issued while healthy

	mu       sync.Mutex
	counts   map[string]int // "phase op status" → requests
	failures []string
	failed   int
}

const (
	faultPace       = 10 * time.Millisecond // between one client's requests
	faultMaxPerConn = 3000                  // requests per client: bounds the load in count
)

func newFaultLoad(ctx context.Context, s *service, clients int) *faultLoad {
	l := &faultLoad{ctx: ctx, s: s, pairs: make([]proc.Pair, clients), counts: map[string]int{}}
	l.ready.Add(clients)
	for id := range clients {
		l.wg.Add(1)
		go l.client(id)
	}
	return l
}

func (l *faultLoad) finish() {
	l.stop.Store(true)
	l.wg.Wait() // bounded: each request times out after 5s
}

func (l *faultLoad) client(id int) {
	defer l.wg.Done()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	a, err := proc.Call(l.ctx, c, http.MethodPost, l.s.base+"/public/login", "", l.s.credentials())
	var p proc.Pair
	if err == nil && a.Status == http.StatusOK {
		err = json.Unmarshal([]byte(a.Body), &p)
	}
	l.ready.Done()
	if err != nil || p.Access == "" {
		l.fail(fmt.Sprintf("client %d: first login: %v %v", id, a, err))
		return
	}
	l.pairs[id] = p
	for i := range faultMaxPerConn {
		if l.stop.Load() || l.ctx.Err() != nil {
			return
		}
		if id%4 == 0 && i%4 == 3 {
			l.do(c, "login", http.MethodPost, "/public/login", "", l.s.credentials(), "")
		} else {
			l.do(c, "welcome", http.MethodGet, "/user/welcome", p.Access, nil, "Welcome ! "+l.s.user)
		}
		time.Sleep(faultPace)
	}
}

// do sends one request and judges it: a 200 (with body want, if set) or
// 503 unavailable are the only acceptable answers at any time; inside a
// settled phase only that phase's answer is.
func (l *faultLoad) do(c *http.Client, op, method, path, bearer string, form url.Values, want string) {
	p0 := l.phase.Load()
	start := time.Now()
	a, err := proc.Call(l.ctx, c, method, l.s.base+path, bearer, form)
	p1 := l.phase.Load()
	if l.ctx.Err() != nil {
		return
	}
	ok200 := err == nil && a.Status == http.StatusOK && (want == "" || a.Body == want)
	ok503 := err == nil && unavailable(a)
	phase := phaseNames[p0]
	if p1 != p0 {
		phase += "→" + phaseNames[p1]
	}
	var verdict string
	switch {
	case err != nil:
		verdict = "transport error"
	case !ok200 && !ok503:
		verdict = "neither 200 nor 503 unavailable with Retry-After"
	case p0 == p1 && p0 == phaseHealthy && !ok200, p0 == phaseRecovered && !ok200:
		verdict = "want 200"
	case p0 == p1 && p0 == phaseDown && !ok503:
		verdict = "want 503 unavailable"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[fmt.Sprintf("%-18s %-7s %d", phase, op, a.Status)]++
	if verdict != "" {
		l.failed++
		if len(l.failures) < 10 {
			body := a.Body
			if len(body) > 200 {
				body = body[:200] + "…"
			}
			l.failures = append(l.failures, fmt.Sprintf("  %s %s in phase %s: %s: status %d, Retry-After %q, body %q, err %v, after %v",
				op, path, phase, verdict, a.Status, a.Header.Get("Retry-After"), body, err, time.Since(start).Round(time.Millisecond)))
		}
	}
}

func (l *faultLoad) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	l.failures = append(l.failures, "  "+msg)
}

// count returns how many requests of op in phase (a settled phase name or
// "a→b") got status.
func (l *faultLoad) count(phase, op string, status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[fmt.Sprintf("%-18s %-7s %d", phase, op, status)]
}

func (l *faultLoad) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.counts {
		n += v
	}
	return n
}

// report fails t for every misjudged request and logs the tally.
func (l *faultLoad) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-32s %6d\n", k, l.counts[k])
	}
	t.Logf("answers by phase, route and status:\n%s", b.String())
	if l.failed > 0 {
		t.Errorf("%d requests got a wrong answer; the first ones:\n%s", l.failed, strings.Join(l.failures, "\n"))
	}
}

// waitTotal waits (bounded) until the load has made n more requests.
func (l *faultLoad) waitTotal(t *testing.T, n int, within time.Duration) {
	t.Helper()
	target := l.total() + n
	deadline := time.Now().Add(within)
	for l.total() < target {
		if time.Now().After(deadline) {
			t.Fatalf("load made %d of %d requests within %v", l.total(), target, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Goroutine bound during an outage under load. The service runs about a
// dozen goroutines of its own (endless and signal handling, three
// listeners, the Redis pool reaper and redial loop, the session batch
// workers), plus one per open client connection (two while it serves a
// request): with 16 clients about 30 to 45 (measured: 28). A goroutine left
// behind per request or per failed Redis dial would pass 200 within a
// second at this load (16 clients × up to 100 requests a second), so 200
// keeps over 4× headroom and still catches a leak.
const (
	faultClients       = 16
	outageGoroutineMax = 200
	outageHold         = 3 * time.Second
	recoveryWithin     = 10 * time.Second
)

// TestRedisKilledMidLoad SIGKILLs redis-server while 16 clients call a
// private route (and some log in): every answer during the outage is 503
// unavailable with Retry-After (never 401 or 500), readiness is 503, the
// goroutine count stays bounded, and once redis-server is started again from
// its append-only file the service recovers by itself, with every session
// issued before the kill valid again.
func TestRedisKilledMidLoad(t *testing.T) {
	r := realRedisServer(t)
	env := serviceEnv(t, r.addr)
	pprofAddr := proc.FreeAddr(t)
	env["PPROF_ADDR"] = pprofAddr
	s := startService(t, env)
	pid := s.cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	probe := &http.Client{Timeout: 5 * time.Second}
	defer probe.CloseIdleConnections()

	l := newFaultLoad(ctx, s, faultClients)
	defer l.finish()
	if !waitGroup(&l.ready, 10*time.Second) {
		t.Fatal("the clients did not all log in within 10s")
	}
	l.waitTotal(t, 300, 10*time.Second)
	before, err := goroutines(ctx, probe, pprofAddr)
	if err != nil {
		t.Fatalf("pprof: %v", err)
	}

	l.phase.Store(phaseFaulting)
	r.kill()
	downAt := time.Now()
	l.phase.Store(phaseDown)

	a, err := proc.Call(ctx, probe, http.MethodGet, s.base+"/readyz", "", nil)
	if err != nil || !unavailable(a) {
		t.Errorf("readyz during the outage: %v %v, want 503 unavailable with Retry-After", a, err)
	}
	time.Sleep(time.Until(downAt.Add(outageHold)))
	during, err := goroutines(ctx, probe, pprofAddr)
	if err != nil {
		t.Fatalf("pprof during the outage: %v", err)
	}
	t.Logf("goroutines under load: %d with Redis up, %d after %v of outage (bound %d)", before, during, outageHold, outageGoroutineMax)
	if during >= outageGoroutineMax {
		t.Errorf("%d goroutines after %v of outage under load, want < %d", during, outageHold, outageGoroutineMax)
	}
	if n := l.count("down", "welcome", http.StatusServiceUnavailable); n < 100 {
		t.Errorf("only %d welcome requests answered 503 during the outage: the load did not run", n)
	}

	l.phase.Store(phaseRestoring)
	r.Start() // same port, same dir: it loads the append-only file
	upAt := time.Now()
	for i := 0; ; i++ {
		ready, err := proc.Call(ctx, probe, http.MethodGet, s.base+"/readyz", "", nil)
		good := err == nil && ready.Status == http.StatusOK
		for _, p := range l.pairs {
			if !good {
				break
			}
			a, err := proc.Call(ctx, probe, http.MethodGet, s.base+"/user/welcome", p.Access, nil)
			good = err == nil && a.Status == http.StatusOK && a.Body == "Welcome ! "+s.user
		}
		if good {
			break
		}
		if time.Since(upAt) > recoveryWithin {
			t.Fatalf("the service has not recovered %v after redis-server came back (readyz %v %v)", recoveryWithin, ready, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovered %v after redis-server answered again; every session from before the kill works",
		time.Since(upAt).Round(time.Millisecond))
	l.phase.Store(phaseRecovered)
	l.waitTotal(t, 300, 10*time.Second)
	l.finish()

	select {
	case <-s.exited:
		t.Fatalf("the service exited: %v", s.waitErr)
	default:
	}
	if now, err := s.readPID(); err != nil || now != pid {
		t.Errorf("PID_FILE names %d (%v), want the original process %d: the service must recover without a restart", now, err, pid)
	}
	l.report(t)
}

// TestRedisPaused pauses every Redis client for 3s (CLIENT PAUSE 3000 ALL)
// while clients call welcome and log in: each request made during the pause
// ends within 2.5s (Redis read timeout 500ms, one retry, pool timeout 1s)
// with 503 unavailable, or 200 if it raced the end of the pause, never
// anything else; afterwards the service answers 200 again by itself.
func TestRedisPaused(t *testing.T) {
	const (
		pause      = 3 * time.Second
		maxLatency = 2500 * time.Millisecond
		clients    = 8
	)
	r := realRedisServer(t)
	s := startService(t, serviceEnv(t, r.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := r.client()

	type result struct {
		op         string
		start, end time.Time
		a          proc.Answer
		err        error
	}
	var (
		mu      sync.Mutex
		results []result
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	pairs := make([]proc.Pair, clients)
	probe := &http.Client{Timeout: 5 * time.Second}
	defer probe.CloseIdleConnections()
	for i := range pairs {
		pairs[i] = s.login(ctx, t, probe)
	}
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for range 1000 {
				if stop.Load() || ctx.Err() != nil {
					return
				}
				res := result{op: "welcome", start: time.Now()}
				if id%4 == 0 {
					res.op = "login"
					res.a, res.err = proc.Call(ctx, c, http.MethodPost, s.base+"/public/login", "", s.credentials())
				} else {
					res.a, res.err = proc.Call(ctx, c, http.MethodGet, s.base+"/user/welcome", pairs[id].Access, nil)
				}
				res.end = time.Now()
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := rc.Do(ctx, "CLIENT", "PAUSE", strconv.Itoa(int(pause/time.Millisecond)), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	paused := time.Now()       // the pause began between sent and paused
	resumed := sent.Add(pause) // and ends no earlier than this
	time.Sleep(time.Until(paused.Add(pause + 1500*time.Millisecond)))
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var during, got503, got200, bad int
	slowest := map[string]time.Duration{}
	for _, res := range results {
		took := res.end.Sub(res.start)
		var verdict string
		switch {
		case res.err != nil:
			verdict = "transport error"
		case res.a.Status != http.StatusOK && !unavailable(res.a):
			verdict = "neither 200 nor 503 unavailable with Retry-After"
		case res.start.After(paused) && res.end.Before(resumed) && res.a.Status != http.StatusServiceUnavailable:
			verdict = "answered during the pause, want 503"
		case res.start.After(paused) && res.start.Before(resumed) && took >= maxLatency:
			verdict = fmt.Sprintf("took %v, want < %v", took.Round(time.Millisecond), maxLatency)
		}
		if res.start.After(paused) && res.start.Before(resumed) {
			during++
			slowest[res.op] = max(slowest[res.op], took)
			switch res.a.Status {
			case http.StatusOK:
				got200++
			case http.StatusServiceUnavailable:
				got503++
			}
		}
		if verdict != "" {
			bad++
			if bad <= 10 {
				t.Errorf("%s %v into the pause: %s (%v %v)", res.op, res.start.Sub(paused).Round(time.Millisecond), verdict, res.a, res.err)
			}
		}
	}
	t.Logf("%d requests in all; %d started during the pause: %d answered 503, %d 200 (raced its end); slowest login %v, welcome %v",
		len(results), during, got503, got200, slowest["login"].Round(time.Millisecond), slowest["welcome"].Round(time.Millisecond))
	if got503 == 0 {
		t.Error("no request answered 503 during the pause: the pause did not take")
	}

	// After the pause: every session works and login opens new ones.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := proc.Call(ctx, probe, http.MethodGet, s.base+"/user/welcome", pairs[1].Access, nil)
		if err == nil && a.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("welcome 5s after the pause ended: %v %v, want 200", a, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range pairs {
		s.welcome(ctx, t, probe, p.Access)
	}
	s.login(ctx, t, probe)
}

// TestRedisOutOfMemory fills Redis up to maxmemory (policy noeviction): a
// login, which must write a session, answers 503 unavailable (not 500, not
// 401), a refresh too, while the sessions already open keep working (a
// private request only reads); once maxmemory is raised again, login and the
// refresh token presented during the fault work.
func TestRedisOutOfMemory(t *testing.T) {
	r := realRedisServer(t)
	s := startService(t, serviceEnv(t, r.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := r.client()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()

	pairs := make([]proc.Pair, 3)
	for i := range pairs {
		pairs[i] = s.login(ctx, t, c)
	}

	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	used := infoInt(t, info, "used_memory")
	limit := used + 1<<20
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", strconv.FormatInt(limit, 10)}} {
		if err := rc.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s: %v", kv[0], kv[1], err)
		}
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		if err := rc.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
			t.Errorf("CONFIG SET maxmemory 0: %v", err)
		}
		if err := rc.Del(ctx, "oom-fill").Err(); err != nil {
			t.Errorf("DEL oom-fill: %v", err)
		}
	}
	defer restore()

	// Fill: 64 KiB pieces into one list until Redis refuses (a 1 MiB margin
	// takes about 16).
	piece := strings.Repeat("x", 64<<10)
	var oomErr error
	for i := 0; i < 200 && oomErr == nil; i++ {
		if err := rc.RPush(ctx, "oom-fill", piece).Err(); err != nil {
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("filling Redis: %v, want an OOM error", err)
			}
			oomErr = err
		}
	}
	if oomErr == nil {
		t.Fatalf("Redis still accepts writes after 200×64 KiB over used_memory %d with maxmemory %d", used, limit)
	}
	// That refusal counted the 64 KiB command's own query buffer: a small
	// write may still fit under the limit. Pin the limit below what Redis
	// now holds, so that every write is refused (reads are not).
	info, err = rc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	full := infoInt(t, info, "used_memory")
	if err := rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(full-256<<10, 10)).Err(); err != nil {
		t.Fatalf("CONFIG SET maxmemory: %v", err)
	}
	if err := rc.Set(ctx, "oom-probe", "x", time.Minute).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("a small write with Redis full: %v, want an OOM error", err)
	}
	t.Logf("Redis full: used_memory %d before filling, %d after; a 64 KiB write got %q; maxmemory now %d",
		used, full, oomErr, full-256<<10)

	for i := range 3 {
		a, err := proc.Call(ctx, c, http.MethodPost, s.base+"/public/login", "", s.credentials())
		if err != nil || !unavailable(a) {
			t.Errorf("login %d with Redis out of memory: %v %v (Retry-After %q), want 503 unavailable with Retry-After",
				i, a, err, a.Header.Get("Retry-After"))
		}
	}
	a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", pairs[0].Refresh, nil)
	if err != nil || !unavailable(a) {
		t.Errorf("refresh with Redis out of memory: %v %v, want 503 unavailable with Retry-After", a, err)
	}
	for _, p := range pairs {
		s.welcome(ctx, t, c, p.Access)
	}
	// Still full: the answers above were not a lucky moment.
	if err := rc.Set(ctx, "oom-probe", "x", time.Minute).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Errorf("a write after the checks: %v, want Redis still out of memory", err)
	}

	restore()
	np := s.login(ctx, t, c)
	s.welcome(ctx, t, c, np.Access)
	a, err = proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", pairs[0].Refresh, nil)
	if err != nil || a.Status != http.StatusOK {
		t.Errorf("refresh after memory came back: %v %v, want 200 (the refused rotation must not have revoked the session)", a, err)
	}
	for _, p := range pairs[1:] {
		s.welcome(ctx, t, c, p.Access)
	}
}

// infoInt reads an integer field of an INFO answer.
func infoInt(t *testing.T, info, field string) int64 {
	t.Helper()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

// stallScript keeps Redis busy for ARGV[1] microseconds: a script runs
// alone, so every other command waits (read-only: nothing to undo).
const stallScript = `
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
repeat
  local t = redis.call('TIME')
until (t[1] * 1000000 + t[2]) - start >= tonumber(ARGV[1])
return 1
`

// TestRefreshSurvivesRedisStall refreshes while Redis stalls for 700ms,
// longer than the service's 500ms read timeout but shorter than that plus a
// retry: Redis runs the rotation after the service stopped waiting for its
// answer, and the service's client sends it once more. The rotation must
// count once: the refresh answers 200 with a pair that works (or 503 with
// the session untouched), never 401, and the session is not revoked as if
// its refresh token had been stolen.
func TestRefreshSurvivesRedisStall(t *testing.T) {
	r := realRedisServer(t)
	s := startService(t, serviceEnv(t, r.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := r.client()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()

	p := s.login(ctx, t, c)
	// One refresh first: Redis then holds the rotation script, so the
	// service sends EVALSHA alone (no NOSCRIPT round trip).
	a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", p.Refresh, nil)
	if err != nil || a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &p) != nil {
		t.Fatalf("refresh before the stall: %v %v", a, err)
	}

	stalled := make(chan error, 1)
	go func() { stalled <- rc.Eval(ctx, stallScript, nil, 700000).Err() }()
	time.Sleep(100 * time.Millisecond) // the script is running
	start := time.Now()
	a, err = proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", p.Refresh, nil)
	took := time.Since(start)
	if err := <-stalled; err != nil {
		t.Fatalf("stalling Redis: %v", err)
	}
	t.Logf("refresh during the stall: %d after %v", a.Status, took.Round(time.Millisecond))
	if took < 400*time.Millisecond {
		t.Errorf("the refresh took only %v: it did not wait for the stalled Redis, so nothing was tested", took)
	}
	if warn := s.grepLog(5, "reuse"); len(warn) > 0 {
		t.Errorf("the service saw refresh token reuse where there was none:\n%s", strings.Join(warn, "\n"))
	}
	switch {
	case err != nil:
		t.Fatalf("refresh during the stall: %v", err)
	case a.Status == http.StatusOK:
		var next proc.Pair
		if err := json.Unmarshal([]byte(a.Body), &next); err != nil {
			t.Fatalf("refresh answer: %v", err)
		}
		s.welcome(ctx, t, c, next.Access)
		if a, err := proc.Call(ctx, c, http.MethodGet, s.base+"/public/refresh", next.Refresh, nil); err != nil || a.Status != http.StatusOK {
			t.Errorf("the pair from the stalled refresh does not rotate: %v %v", a, err)
		}
	case unavailable(a):
		// Both sends timed out: whether the rotation happened is unknown
		// (the pair it made never reached the client), but no reuse was
		// seen, so the session was not revoked.
		t.Logf("503: the stall outlasted the retry too")
	default:
		t.Fatalf("refresh during a 700ms Redis stall: %v, want 200 or 503 unavailable (a 401 logs the user out)", a)
	}
}
