// Package logbuf buffers the service's log output. The access log writes a
// line per request; written one by one, each line costs a write syscall,
// which under load is a large share of a request's CPU. A Writer collects
// lines in memory and writes them in one syscall per flush: when the buffer
// fills, at least every flush interval (Run), and whenever Flush is called
// (the server calls it on a SIGHUP hand-over and after a SIGTERM drain). So
// a clean stop loses no line, and a crash loses at most one interval.
//
// Lines that must not wait (security events, errors) go through Immediate:
// they are written at once, after whatever is buffered, so the order of
// lines is kept.
package logbuf

import (
	"context"
	"io"
	"sync"
	"time"
)

// DefaultSize is the buffer size: a few hundred access lines.
const DefaultSize = 64 << 10

// Writer is a buffered, concurrency-safe writer of whole lines. Each Write
// must be whole lines (as log handlers write), so that a flush never splits
// a line.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
}

// New returns a Writer on out with a buffer of size bytes.
func New(out io.Writer, size int) *Writer {
	return &Writer{out: out, buf: make([]byte, 0, size)}
}

// Write buffers p; when p does not fit, the buffer is written out first
// (and a p larger than the whole buffer goes straight through). It never
// fails: a failed write to out drops those lines, as a log handler would.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(w.buf)+len(p) > cap(w.buf) {
		_ = w.flushLocked()
	}
	if len(p) > cap(w.buf) {
		_, _ = w.out.Write(p)
	} else {
		w.buf = append(w.buf, p...)
	}
	w.mu.Unlock()
	return len(p), nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Run flushes every interval until ctx is done, then once more.
func (w *Writer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = w.Flush()
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}

// Immediate returns a writer whose lines go out at once, after the
// buffered ones.
func (w *Writer) Immediate() io.Writer { return immediate{w} }

type immediate struct{ w *Writer }

func (i immediate) Write(p []byte) (int, error) {
	i.w.mu.Lock()
	defer i.w.mu.Unlock()
	if err := i.w.flushLocked(); err != nil {
		return 0, err
	}
	return i.w.out.Write(p)
}
