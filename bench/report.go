package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// printTable prints one markdown table: per route the medians over the
// rounds of req/s, p50 and p99, and the median of its ratios to the window
// of bare gin (the first target) paired with each of its windows, right
// before or right after it (bareFirst): on a shared machine the load of
// others moves from one window to the next, and adjacent windows see nearly
// the same. Beside it the lowest and highest of
// those ratios: how far one round can be from the median on this machine, so
// that a verdict on a target is read against it. Then welcome's p99 against
// bare gin's, paired the same way.
func printTable(targets []target, runs [][]result) {
	fmt.Println("| route | req/s | p50 | p99 | × bare gin | rounds | errors |")
	fmt.Println("|---|--:|--:|--:|--:|--:|--:|")
	var p99Ratios []float64
	var byOrder []string
	for i, t := range targets {
		var rps, ratios []float64
		var order [2][]float64 // ratios with bare gin's window first, second
		var p50, p99 []time.Duration
		errors := 0
		for _, r := range runs[i] {
			rps = append(rps, r.rps)
			p50 = append(p50, r.p50)
			p99 = append(p99, r.p99)
			if r.bare != nil && r.bare.rps > 0 {
				ratios = append(ratios, r.rps/r.bare.rps)
				k := 1
				if r.bareFirst {
					k = 0
				}
				order[k] = append(order[k], r.rps/r.bare.rps)
				if t.short == "welcome" && r.bare.p99 > 0 {
					p99Ratios = append(p99Ratios, float64(r.p99)/float64(r.bare.p99))
				}
			}
			errors += r.errors
		}
		ratio, spread := "—", "—"
		switch {
		case i == 0:
			ratio = "1.00"
		case len(ratios) > 0:
			ratio = fmt.Sprintf("%.2f", median(ratios))
			spread = fmt.Sprintf("%.2f–%.2f", slices.Min(ratios), slices.Max(ratios))
		}
		if len(order[0]) > 0 && len(order[1]) > 0 {
			byOrder = append(byOrder, fmt.Sprintf("%s %.2f / %.2f", t.short, median(order[0]), median(order[1])))
		}
		label := t.label
		if t.conns > 0 {
			label += fmt.Sprintf(" (%d connections)", t.conns)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %d |\n", label, thousands(median(rps)), ms(median(p50)), ms(median(p99)), ratio, spread, errors)
	}
	if len(byOrder) > 0 {
		fmt.Printf("\nratio by window order (median; bare gin's window first / second): %s\n", strings.Join(byOrder, ", "))
	}
	if len(p99Ratios) > 0 {
		fmt.Printf("\nwelcome p99 / bare gin p99 (paired windows, median): %.2f× (target ≤ 2×)\n", median(p99Ratios))
	}
}

func median[T float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ms prints a latency in milliseconds, two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// thousands prints n rounded, with thousands separators: 48923 → 48,923.
func thousands(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// printCPU prints, per route, the median over the rounds of the CPU time
// per answered request of the server, redis-server and the load generator:
// on 2 shared cores a route's throughput is about 2 s / their sum, so this
// says which of them to make cheaper.
func printCPU(targets []target, runs [][]result) {
	fmt.Println("\nCPU time per answered request (median of the rounds; the three share the machine's cores):")
	fmt.Println()
	fmt.Println("| route | server | redis-server | load generator | sum | CPU stolen by the hypervisor |")
	fmt.Println("|---|--:|--:|--:|--:|--:|")
	for i, t := range targets {
		var server, redis, gen, sum []time.Duration
		var steal []float64
		for _, r := range runs[i] {
			server = append(server, r.cpu.server)
			redis = append(redis, r.cpu.redis)
			gen = append(gen, r.cpu.generator)
			sum = append(sum, r.cpu.server+r.cpu.redis+r.cpu.generator)
			steal = append(steal, r.cpu.steal)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.1f%% |\n", t.label, us(median(server)), us(median(redis)), us(median(gen)), us(median(sum)), 100*median(steal))
	}
}

// us prints a duration in microseconds, one decimal.
func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }
