package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPairTakesTheBareWindowOnEitherSide(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.err")
	lines := "round 1: bare         40000 req/s  p99 1ms\n" +
		"round 1: ping         30000 req/s  p99 1ms\n" +
		"round 1: login           60 req/s  p99 1ms\n" +
		"round 2: ping         45000 req/s  p99 1ms\n" +
		"round 2: bare         50000 req/s  p99 1ms\n" +
		"wrk round 1: bare     20000 req/s  p99 1ms\n" +
		"wrk round 1: welcome  10000 req/s  p99 1ms\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	byGen, err := read(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pair(byGen["bench"])
	if err != nil {
		t.Fatal(err)
	}
	want := []window{{"ping", 0.75}, {"ping", 0.9}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("bench: %v, want %v", got, want)
	}
	if got, err := pair(byGen["wrk"]); err != nil || len(got) != 1 || got[0] != (window{"welcome", 0.5}) {
		t.Fatalf("wrk: %v, %v", got, err)
	}
	// Two service windows in a row are no pair: refused, not guessed.
	if _, err := pair([]window{{"ping", 1}, {"welcome", 1}}); err == nil {
		t.Fatal("two service windows were paired")
	}
	if _, err := pair([]window{{"bare", 1}}); err == nil {
		t.Fatal("a lone window was paired")
	}
}
