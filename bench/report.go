package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// printTable prints one markdown table: per route the medians over the
// rounds of req/s, p50 and p99, and the median of the per-round ratios to
// bare gin (the first target) of the same round, which the noise of a
// shared machine moves far less than the absolute figures. Then welcome's
// p99 against bare gin's.
func printTable(targets []target, runs [][]result) {
	fmt.Println("| route | req/s | p50 | p99 | × bare gin | errors |")
	fmt.Println("|---|--:|--:|--:|--:|--:|")
	bare := runs[0]
	var welcomeP99, bareP99 time.Duration
	for i, t := range targets {
		var rps, ratios []float64
		var p50, p99 []time.Duration
		errors := 0
		for round, r := range runs[i] {
			rps = append(rps, r.rps)
			p50 = append(p50, r.p50)
			p99 = append(p99, r.p99)
			if bare[round].rps > 0 {
				ratios = append(ratios, r.rps/bare[round].rps)
			}
			errors += r.errors
		}
		ratio := "—"
		if t.short != "login" && len(ratios) > 0 {
			ratio = fmt.Sprintf("%.2f", median(ratios))
		}
		label := t.label
		if t.conns > 0 {
			label += fmt.Sprintf(" (%d connections)", t.conns)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", label, thousands(median(rps)), ms(median(p50)), ms(median(p99)), ratio, errors)
		switch t.short {
		case "bare":
			bareP99 = median(p99)
		case "welcome":
			welcomeP99 = median(p99)
		}
	}
	if bareP99 > 0 && welcomeP99 > 0 {
		fmt.Printf("\nwelcome p99 / bare gin p99: %.2f× (target ≤ 2×)\n", float64(welcomeP99)/float64(bareP99))
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
