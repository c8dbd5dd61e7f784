// Package logbuf buffers the service's log output. The access log writes a
// line per request; written one by one, each line costs a write syscall,
// which under load is a large share of a request's CPU. A Writer collects
// lines in memory and writes them in one syscall per flush: when the buffer
// is half full and at least every flush interval (both on Run's goroutine),
// when it fills, and whenever Flush is called
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
// a line. A request only copies its line into the buffer: once the buffer is
// half full, Run's goroutine writes it out, so the write syscall is not paid
// on a request's path nor under the lock requests take (only when Run lags
// and the buffer fills does a writer flush it itself).
type Writer struct {
	mu    sync.Mutex // guards buf
	wmu   sync.Mutex // held while writing to out, taken under mu: order is kept; guards spare
	out   io.Writer
	buf   []byte
	spare []byte
	size  int
	kick  chan struct{}
}

// New returns a Writer on out with a buffer of size bytes.
func New(out io.Writer, size int) *Writer {
	return &Writer{out: out, buf: make([]byte, 0, size), size: size, kick: make(chan struct{}, 1)}
}

// Write buffers p; when p does not fit, the buffer is written out first
// (and a p larger than the whole buffer goes straight through, after it).
// It never fails: a failed write to out drops those lines, as a log handler
// would.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(p) > w.size {
		_ = w.writeOut(p)
		return len(p), nil
	}
	if len(w.buf)+len(p) > w.size {
		_ = w.writeOut(nil)
		w.mu.Lock()
	}
	w.buf = append(w.buf, p...)
	half := len(w.buf) >= w.size/2
	w.mu.Unlock()
	if half {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// writeOut is called with mu held and releases it: it takes the write lock
// and the buffered lines (the spare buffer takes their place), then writes
// them and then extra outside mu. Two buffers in turn: no garbage per flush.
func (w *Writer) writeOut(extra []byte) error {
	w.wmu.Lock()
	full := w.buf
	w.buf, w.spare = w.spare[:0], nil
	if w.buf == nil {
		w.buf = make([]byte, 0, w.size)
	}
	w.mu.Unlock()
	defer func() {
		w.spare = full[:0]
		w.wmu.Unlock()
	}()
	var err error
	if len(full) > 0 {
		_, err = w.out.Write(full)
	}
	if len(extra) > 0 {
		if _, e := w.out.Write(extra); err == nil {
			err = e
		}
	}
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	if len(w.buf) == 0 {
		w.mu.Unlock()
		return nil
	}
	return w.writeOut(nil)
}

// Run flushes every interval and whenever the buffer is half full, until
// ctx is done, then once more.
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
		case <-w.kick:
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
	if err := i.w.writeOut(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
