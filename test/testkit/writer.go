package testkit

import "net/http"

// DiscardWriter is a ResponseWriter that keeps nothing but the status, so
// that a benchmark counts the router's allocations, not a recorder's. It
// counts the calls to Header after the answer was written (Late): on a real
// connection net/http clones the header map for each (the answer is written
// but not yet flushed), a cost a recorder would hide.
type DiscardWriter struct {
	H      http.Header
	Status int
	Wrote  bool
	Late   int
}

// Header returns the answer's header, counting a call after the write.
func (w *DiscardWriter) Header() http.Header {
	if w.Wrote {
		w.Late++
	}
	return w.H
}

// Write discards p.
func (w *DiscardWriter) Write(p []byte) (int, error) { w.Wrote = true; return len(p), nil }

// WriteHeader keeps the status.
func (w *DiscardWriter) WriteHeader(s int) { w.Status, w.Wrote = s, true }
