// Command bench measures the service end to end on this machine, against a
// yardstick started in the same run: it builds the binary and a bare Gin
// server (bench/baregin), starts its own redis-server, the service as
// operators run it (GIN_MODE=release, access log on and written to a file,
// metrics on) and the bare server on loopback ports, then loads bare gin's
// /ping and the service's ping, welcome, refresh and login round by round,
// interleaved, and prints markdown tables of the medians with every ratio to
// bare gin: first with its own load generator, then with wrk as a second
// opinion. Then the login overhead beyond the password hash and Redis memory
// per live session.
//
//	go run ./bench            # full run (a few minutes)
//	go run ./bench -short     # a few seconds: proves it works (CI)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

const secret = "bench-secret-bench-secret-bench-secret"

// dataKey is the DATA_KEY release mode requires (SPEC §11): the bench runs
// the service as operators do.
const dataKey = "bench-data-key-bench-data-key-bench-data-key"

// options are the command line.
type options struct {
	duration   time.Duration
	rounds     int
	conns      int
	sessions   int
	logins     int
	wrk        bool
	profileDir string
	only       map[string]bool // these service routes alone (empty: all)
	versus     string          // another build of the service, loaded beside this one
}

func main() {
	var o options
	short := flag.Bool("short", false, "a quick run that only proves the benchmark works")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each route is loaded in each round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each loads every route once, in turn")
	flag.IntVar(&o.conns, "conns", 64, "concurrent connections")
	flag.IntVar(&o.sessions, "sessions", 100000, "sessions created to measure Redis memory")
	flag.BoolVar(&o.wrk, "wrk", true, "also load with wrk (installed with apt-get when missing)")
	flag.StringVar(&o.profileDir, "profile", "", "save a CPU profile of the service per route (first round) in this folder")
	flag.StringVar(&o.versus, "versus", "", "a go-jwt binary (another revision: git worktree add, go build) run beside this tree's build, each route loaded on both in turn, for an A/B in one run")
	only := flag.String("only", "", "comma list of routes to load (ping,welcome,dpop,dpop-ed,refresh,login), for working on one; the full run loads all")
	flag.Parse()
	o.logins = 40
	if *only != "" {
		o.only = map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			o.only[name] = true
		}
	}
	if *short {
		o.duration, o.rounds, o.conns, o.sessions, o.logins = 500*time.Millisecond, 1, 8, 2000, 10
	}
	if err := run(o); err != nil {
		log.Fatal("bench: ", err)
	}
}

// bareFirst reports whether, in round (from 0), bare gin's window comes
// before the service route it is paired with. The order alternates from
// round to round, so that whatever the first of two windows leaves behind
// for the second (its connections closing, its garbage, a neighbour's load
// that is rising or falling) weighs on bare gin as often as on the service.
func bareFirst(round int) bool { return round%2 == 0 }

func run(o options) error {
	dir, err := os.MkdirTemp("", "go-jwt-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binDir := dir
	if o.profileDir != "" { // the profiles are read against this binary
		binDir = o.profileDir
	}
	rig, err := startRig(dir, binDir, o.profileDir != "", o.versus)
	if err != nil {
		return err
	}
	defer rig.stop()
	users, err := rig.registerUsers(o.conns)
	if err != nil {
		return err
	}

	fmt.Printf("machine: %s/%s, %d cores, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	fmt.Printf("load: %d connections, %d rounds of %v per window, each service route paired with a window of bare gin (bare gin first in odd rounds, second in even ones); service: GIN_MODE=release, JSON access log to a file, metrics on, redis-server on loopback\n\n",
		o.conns, o.rounds, o.duration)
	rig.window = o.duration
	targets := rig.targets(users)
	if o.only != nil {
		targets = slices.DeleteFunc(targets, func(t target) bool { return t.short != "bare" && !o.only[strings.TrimSuffix(t.short, "-vs")] })
	}
	runs := make([][]result, len(targets))
	for round := range o.rounds {
		for i, t := range targets {
			if i == 0 {
				continue // bare gin runs before each of the others
			}
			conns := o.conns
			if t.conns > 0 {
				conns = min(conns, t.conns)
			}
			var bare *result
			loadBare := func() {
				b := load(targets[0], o.conns, o.duration, "", "")
				runs[0] = append(runs[0], b)
				bare = &b
				fmt.Fprintf(os.Stderr, "round %d: %-8s %9.0f req/s  p99 %v\n", round+1, targets[0].short, b.rps, b.p99)
			}
			paired := t.short != "login" // login is bound by the hash: no ratio
			if paired && bareFirst(round) {
				loadBare()
			}
			profile := ""
			if round == 0 && t.service && o.profileDir != "" {
				profile = filepath.Join(o.profileDir, t.short+".prof")
			}
			r := load(t, conns, o.duration, profile, rig.pprofAddr)
			fmt.Fprintf(os.Stderr, "round %d: %-8s %9.0f req/s  p99 %v\n", round+1, t.short, r.rps, r.p99)
			if paired && !bareFirst(round) {
				loadBare()
			}
			r.bare, r.bareFirst = bare, bareFirst(round)
			runs[i] = append(runs[i], r)
		}
	}
	fmt.Printf("### Go load generator (%d connections; login %d)\n\n", o.conns, min(o.conns, loginConns))
	printTable(targets, runs)
	printCPU(targets, runs)
	fmt.Printf("\npeak resident memory (VmHWM) so far: service %.1f MB, bare gin %.1f MB\n", mb(peakRSS(rig.appPID)), mb(peakRSS(rig.barePID)))

	if o.only != nil { // a partial run: the tables above are what was asked for
		return nil
	}
	if o.wrk {
		if err := runWrk(rig, targets, users, o); err != nil {
			fmt.Printf("\nwrk: skipped (%v)\n", err)
		}
	}

	if err := gatewayBench(rig.appAddr, users, o.conns, o.duration); err != nil { // bench/gateway.go
		return err
	}

	login, hash, err := loginVersusHash(rig.appAddr, o.logins)
	if err != nil {
		return err
	}
	fmt.Printf("\nlogin, one at a time: mean %v; the password hash inside those logins (the service's password_hash_duration_seconds): mean %v; overhead beyond the hash: %.1f%% (target < 10%%)\n\n",
		login.Round(10*time.Microsecond), hash.Round(10*time.Microsecond), 100*(float64(login)/float64(hash)-1))

	if n := signedLate.Load(); n > 0 {
		fmt.Printf("(dpop: %d proofs were signed during the windows, on the load generator's share of the CPU)\n\n", n)
	}
	if err := forgetProofs(rig.rdb); err != nil { // the used-jti keys must not weigh on the memory measured next
		return err
	}
	if err := printMemory(context.Background(), rig.rdb, o.sessions); err != nil {
		return err
	}
	for i, t := range targets {
		for _, r := range runs[i] {
			if r.errors > 0 {
				return fmt.Errorf("%s: %d failed requests (first: %v)", t.short, r.errors, r.firstErr)
			}
		}
	}
	return nil
}
