package logbuf_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/logbuf"
)

// countingWriter records each Write it is given.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) all() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.writes, ""), len(c.writes)
}

func TestLinesWaitForAFlushAndGoOutInOneWrite(t *testing.T) {
	out := &countingWriter{}
	w := logbuf.New(out, 1024)
	for range 10 {
		_, _ = w.Write([]byte("line\n"))
	}
	if got, n := out.all(); n != 0 {
		t.Fatalf("written before a flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, n := out.all(); n != 1 || got != strings.Repeat("line\n", 10) {
		t.Fatalf("after Flush: %d writes, %q; want the ten lines in one write", n, got)
	}
}

func TestAFullBufferIsWrittenBeforeTheLineThatDoesNotFit(t *testing.T) {
	out := &countingWriter{}
	w := logbuf.New(out, 16)
	_, _ = w.Write([]byte("0123456789\n")) // 11 bytes
	_, _ = w.Write([]byte("abcdefghij\n")) // does not fit: the first goes out
	if got, n := out.all(); n != 1 || got != "0123456789\n" {
		t.Fatalf("%d writes, %q", n, got)
	}
	_, _ = w.Write([]byte(strings.Repeat("x", 40) + "\n")) // larger than the buffer: straight through, in order
	_ = w.Flush()
	if got, _ := out.all(); got != "0123456789\nabcdefghij\n"+strings.Repeat("x", 40)+"\n" {
		t.Fatalf("order lost: %q", got)
	}
}

func TestImmediateLinesGoOutAtOnceAfterTheBufferedOnes(t *testing.T) {
	out := &countingWriter{}
	w := logbuf.New(out, 1024)
	_, _ = w.Write([]byte("access 1\n"))
	_, _ = w.Immediate().Write([]byte("security event\n"))
	if got, _ := out.all(); got != "access 1\nsecurity event\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRunFlushesOnItsIntervalAndWhenStopped(t *testing.T) {
	out := &countingWriter{}
	w := logbuf.New(out, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, 10*time.Millisecond); close(done) }()
	_, _ = w.Write([]byte("first\n"))
	// Waiting for the ticker's flush (no Flush is called); the deadline only
	// bounds the test.
	deadline := time.Now().Add(10 * time.Second)
	for got, _ := out.all(); got != "first\n"; got, _ = out.all() {
		if time.Now().After(deadline) {
			t.Fatalf("no flush on the interval: %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A line written, then Run stopped at once: the final flush writes it.
	_, _ = w.Write([]byte("last\n"))
	cancel()
	<-done
	if got, _ := out.all(); got != "first\nlast\n" {
		t.Fatalf("after stop: %q", got)
	}
}

func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	var out testkit.SyncBuffer
	w := logbuf.New(&out, 256)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 200 {
				_, _ = w.Write([]byte(strings.Repeat(string(rune('a'+g)), 20) + "\n"))
			}
		})
	}
	wg.Wait()
	_ = w.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if len(l) != 20 || strings.Trim(l, l[:1]) != "" {
			t.Fatalf("torn line %q", l)
		}
	}
}

// Past half the buffer, Run writes it out without waiting for its interval
// (here an hour), and not on the writer's goroutine.
func TestRunWritesAHalfFullBuffer(t *testing.T) {
	out := &countingWriter{}
	w := logbuf.New(out, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, time.Hour)
	line := []byte(strings.Repeat("y", 29) + "\n")
	for range 2 {
		_, _ = w.Write(line) // 60 bytes: past half
	}
	deadline := time.Now().Add(10 * time.Second)
	for got, _ := out.all(); got != string(line)+string(line); got, _ = out.all() {
		if time.Now().After(deadline) {
			t.Fatalf("a half-full buffer was not written: %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
