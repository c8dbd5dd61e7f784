package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// loginConns caps the connections on login: it is bound by the password
// hash (HASH_CONCURRENCY = cores), and more would only queue.
const loginConns = 4

// target is one route under load.
type target struct {
	short   string // name in progress lines and profile files
	label   string // row of the tables
	addr    string
	path    string // for wrk
	service bool   // the service (profiled), not the yardstick
	conns   int    // at most this many connections (0: all)
	setup   op     // run per connection before the clock starts
	do      op
	// pid and redisPID are the processes whose CPU time the window
	// counts (0: none).
	pid, redisPID int
}

func (r *rig) targets(users []string) []target {
	ts := []target{{short: "bare", label: "bare gin `GET /ping` (yardstick)", addr: r.bareAddr, path: "/ping", do: bareOp, pid: r.barePID, redisPID: r.redisPID}}
	versus := serviceTargets(r.versusAddr, users, r.window)
	for i, t := range serviceTargets(r.appAddr, users, r.window) {
		t.pid, t.redisPID = r.appPID, r.redisPID
		ts = append(ts, t)
		if r.versusAddr != "" && t.short != "login" {
			v := versus[i]
			v.short, v.label = t.short+"-vs", t.label+", versus"
			v.pid, v.redisPID, v.service = r.versusPID, r.redisPID, false // not profiled: pprof is the service's
			ts = append(ts, v)
		}
	}
	return ts
}

// serviceTargets are the service's routes at addr.
func serviceTargets(addr string, users []string, window time.Duration) []target {
	return []target{
		{short: "ping", label: "service `GET /public/ping`", addr: addr, path: "/public/ping", service: true, do: pingOp},
		{short: "welcome", label: "service `GET /user/welcome`", addr: addr, path: "/user/welcome", service: true, setup: loginSetup(users), do: welcomeOp},
		dpopTarget(addr, users, window, false), // bench/dpop.go
		dpopTarget(addr, users, window, true),
		{short: "refresh", label: "service `POST /public/refresh`", addr: addr, service: true, setup: loginSetup(users), do: refreshOp},
		{short: "login", label: "service `POST /public/login`", addr: addr, service: true, conns: loginConns, do: loginOp},
	}
}

// result is one route's measurement in one round.
type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	firstErr error
	cpu      cpuShare
	// bare is the window of bare gin paired with this one (right before
	// it when bareFirst, right after it otherwise): the ratio is to it.
	bare      *result
	bareFirst bool
}

// worker state: a connection, the user it logs in as and, for token
// routes, its tokens.
type worker struct {
	c                 *conn
	user              string
	accessH, refreshH []string
}

type op func(w *worker) error

// load drives t over conns connections for d. Every connection is dialled
// and set up (its login) before the clock starts, so the window measures
// the route alone. With profile set, a CPU profile of the service is saved
// there, taken over the window.
func load(t target, conns int, d time.Duration, profile, pprofAddr string) result {
	var mu sync.Mutex
	var lat []time.Duration
	var res result
	workers := make([]*worker, conns)
	var setupWG sync.WaitGroup
	for g := range 4 {
		setupWG.Go(func() {
			for i := g; i < conns; i += 4 {
				c, err := dial(t.addr)
				if err == nil {
					workers[i] = &worker{c: c}
					if t.setup != nil {
						err = t.setup(workers[i])
					}
				}
				if err != nil {
					mu.Lock()
					res.errors++
					res.firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	setupWG.Wait()
	workers = slices.DeleteFunc(workers, func(w *worker) bool { return w == nil })
	defer func() {
		for _, w := range workers {
			w.c.close()
		}
	}()
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	meter := startCPU(t.pid, t.redisPID)
	if profile != "" && d >= 2*time.Second {
		wg.Go(func() { saveProfile(profile, pprofAddr, d-time.Second) })
	}
	for _, w := range workers {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1<<16)
			var errs int
			var first error
			for time.Now().Before(deadline) {
				start := time.Now()
				if err := t.do(w); err != nil {
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
	res.cpu = meter.per(len(lat))
	slices.Sort(lat)
	if len(lat) > 0 {
		res.rps = float64(len(lat)) / d.Seconds()
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[len(lat)*99/100]
	}
	return res
}

// saveProfile saves a CPU profile of the service taken over d.
func saveProfile(file, pprofAddr string, d time.Duration) {
	client := &http.Client{Timeout: d + 10*time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds())))
	if err != nil {
		log.Printf("profile %s: %v", file, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err == nil {
		err = os.WriteFile(file, body, 0o644)
	}
	if err != nil {
		log.Printf("profile %s: %v", file, err)
	}
}

var loginBody = []byte("username=bench&password=bench-password")
var formHeader = []string{"Content-Type: application/x-www-form-urlencoded", uaHeader}

// uaHeader goes with the bench's logins and refreshes: a browser's carry
// one, and the session stores it (utils/useragent.go).
const uaHeader = "User-Agent: " + browserUA

func bareOp(w *worker) error { return expect(w.c.do("GET", "/ping", nil, nil)) }

func pingOp(w *worker) error { return expect(w.c.do("GET", "/public/ping", nil, nil)) }

func loginOp(w *worker) error { return expect(w.c.do("POST", "/public/login", formHeader, loginBody)) }

// loginSetup logs each connection in as a user of its own (taken in turn
// from users), so that no user goes past MAX_SESSIONS.
func loginSetup(users []string) op {
	var mu sync.Mutex
	next := 0
	return func(w *worker) error {
		mu.Lock()
		user := users[next%len(users)]
		next++
		mu.Unlock()
		status, body, err := w.c.do("POST", "/public/login", formHeader, []byte("username="+user+"&password=bench-password"))
		if err := expect(status, body, err); err != nil {
			return err
		}
		w.user = user
		return w.take(body)
	}
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
	w.refreshH = []string{"Authorization: Bearer " + refresh, uaHeader}
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
	status, body, err := w.c.do("POST", "/public/refresh", w.refreshH, []byte{})
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
