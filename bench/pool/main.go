// Command pool puts the rounds of several runs of go run ./bench together:
// it reads the progress lines that bench prints on stderr ("round 3: ping
// 45772 req/s ..."), pairs each service window with the bare gin window
// of its pair (the one right before it, or right after it in the rounds
// where bare gin goes second), and prints per generator and route the
// median of all those ratios, with their number, lowest and highest. A
// median over the rounds of three runs says more than any one run's on a
// machine where one round moves by ±0.1.
//
//	go run ./bench -rounds 6 2> run1.err > run1.md    # and again: run2, run3
//	go run ./bench/pool run1.err run2.err run3.err
package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
)

var progress = regexp.MustCompile(`^(wrk )?round \d+: (\S+)\s+(\d+) req/s`)

type window struct {
	route string
	rps   float64
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: pool run1.err [run2.err ...]")
	}
	ratios := map[string][]float64{}
	var keys []string
	for _, name := range os.Args[1:] {
		byGen, err := read(name)
		if err != nil {
			log.Fatal(err)
		}
		for _, gen := range []string{"bench", "wrk"} {
			rs, err := pair(byGen[gen])
			if err != nil {
				log.Fatalf("%s: %s: %v", name, gen, err)
			}
			for _, r := range rs {
				k := gen + " " + r.route
				if _, ok := ratios[k]; !ok {
					keys = append(keys, k)
				}
				ratios[k] = append(ratios[k], r.rps)
			}
		}
	}
	fmt.Println("| generator and route | rounds | × bare gin (median) | lowest–highest |")
	fmt.Println("|---|--:|--:|--:|")
	for _, k := range keys {
		r := ratios[k]
		slices.Sort(r)
		m := r[len(r)/2]
		if len(r)%2 == 0 {
			m = (r[len(r)/2-1] + m) / 2
		}
		fmt.Printf("| %s | %d | %.2f | %.2f–%.2f |\n", k, len(r), m, r[0], r[len(r)-1])
	}
}

// pair returns, for each service window of ws (one generator's, in the
// order they ran), its ratio to the bare gin window of its pair: the one
// right before or right after it.
func pair(ws []window) ([]window, error) {
	var out []window
	for i := 0; i < len(ws); {
		if ws[i].route == "login" { // bound by the hash: not paired
			i++
			continue
		}
		if i+1 == len(ws) {
			return nil, fmt.Errorf("window %q has no pair", ws[i].route)
		}
		a, b := ws[i], ws[i+1]
		if b.route == "bare" {
			a, b = b, a
		}
		if a.route != "bare" || b.route == "bare" {
			return nil, fmt.Errorf("windows %q and %q are not a pair", ws[i].route, ws[i+1].route)
		}
		out = append(out, window{b.route, b.rps / a.rps})
		i += 2
	}
	return out, nil
}

// read returns the windows of one run's progress lines, in order, by
// generator ("bench" for its own, "wrk").
func read(name string) (map[string][]window, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	out := map[string][]window{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		m := progress.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		gen := "bench"
		if m[1] != "" {
			gen = "wrk"
		}
		rps, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out[gen] = append(out[gen], window{m[2], rps})
	}
	return out, s.Err()
}
