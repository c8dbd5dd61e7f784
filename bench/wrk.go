package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// runWrk loads bare gin, ping and welcome with wrk, round by round like the
// Go generator, and prints its table. Refresh and login are left out: each
// refresh connection must follow its own rotation chain, and wrk's Lua
// state is per thread, not per connection.
func runWrk(r *rig, targets []target, users []string, o options) error {
	path, err := ensureWrk()
	if err != nil {
		return err
	}
	c, err := dial(r.appAddr)
	if err != nil {
		return err
	}
	w := &worker{c: c}
	err = loginSetup(users)(w)
	c.close()
	if err != nil {
		return err
	}
	header := strings.TrimPrefix(w.accessH[0], "Authorization: ")
	secs := max(1, int(o.duration.Round(time.Second).Seconds()))
	var chosen []target
	for _, t := range targets {
		if t.path != "" {
			chosen = append(chosen, t)
		}
	}
	runs := make([][]result, len(chosen))
	run := func(round int, t target) (result, error) {
		args := []string{"-t2", "-c" + strconv.Itoa(o.conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
		if strings.TrimSuffix(t.short, "-vs") == "welcome" {
			args = append(args, "-H", "Authorization: "+header)
		}
		out, err := exec.Command(path, append(args, "http://"+t.addr+t.path)...).CombinedOutput()
		if err != nil {
			return result{}, fmt.Errorf("wrk %s: %v: %s", t.short, err, out)
		}
		res, err := parseWrk(out)
		if err != nil {
			return result{}, fmt.Errorf("wrk %s: %v: %s", t.short, err, out)
		}
		fmt.Fprintf(os.Stderr, "wrk round %d: %-8s %9.0f req/s  p99 %v\n", round+1, t.short, res.rps, res.p99)
		return res, nil
	}
	for round := range o.rounds {
		for i, t := range chosen[1:] { // each paired with a window of bare gin, in the order bareFirst gives
			var bare, res result
			var err error
			if bareFirst(round) {
				bare, err = run(round, chosen[0])
			}
			if err == nil {
				res, err = run(round, t)
			}
			if err == nil && !bareFirst(round) {
				bare, err = run(round, chosen[0])
			}
			if err != nil {
				return err
			}
			runs[0] = append(runs[0], bare)
			res.bare, res.bareFirst = &bare, bareFirst(round)
			runs[i+1] = append(runs[i+1], res)
		}
	}
	fmt.Printf("\n### wrk (`wrk -t2 -c%d -d%ds --latency`; errors: non-2xx answers and socket errors)\n\n", o.conns, secs)
	printTable(chosen, runs)
	return nil
}

// ensureWrk finds wrk, installing the Debian package when it is missing and
// this process may (root).
func ensureWrk() (string, error) {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("wrk is not installed and this is not root: apt-get install wrk")
	}
	fmt.Fprintln(os.Stderr, "bench: installing wrk (apt-get install wrk)")
	install := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "-qq", "wrk")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	if install() != nil {
		if err := exec.Command("apt-get", "update", "-qq").Run(); err != nil {
			return "", fmt.Errorf("apt-get update: %w", err)
		}
		if err := install(); err != nil {
			return "", fmt.Errorf("apt-get install wrk: %w", err)
		}
	}
	return exec.LookPath("wrk")
}

// parseWrk reads req/s, the 50th and 99th percentile and the errors from
// wrk's --latency report.
func parseWrk(out []byte) (result, error) {
	var res result
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return res, err
			}
			res.rps = v
			seen++
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return res, err
			}
			if f[0] == "50%" {
				res.p50 = d
			} else {
				res.p99 = d
			}
			seen++
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			n, _ := strconv.Atoi(f[len(f)-1])
			res.errors += n
			res.firstErr = errors.New("non-2xx answers")
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			for _, part := range strings.Split(strings.Join(f[2:], " "), ",") {
				kv := strings.Fields(part)
				if len(kv) == 2 {
					n, _ := strconv.Atoi(kv[1])
					res.errors += n
				}
			}
			res.firstErr = errors.New("socket errors")
		}
	}
	if seen != 3 {
		return res, errors.New("unexpected wrk output")
	}
	return res, nil
}
