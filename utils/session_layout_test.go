package utils

import (
	"fmt"
	"testing"
	"time"
)

// The rotation time is 13 digits, as fmt's %013d writes it: the rotation
// script compares it as a number and reads it at a fixed offset.
func TestMillis13IsZeroPadded(t *testing.T) {
	for _, at := range []time.Time{time.UnixMilli(0), time.UnixMilli(7), time.UnixMilli(999_999_999_999),
		time.UnixMilli(1_000_000_000_000), time.Date(2026, 12, 2, 3, 4, 5, 678_000_000, time.UTC), time.UnixMilli(9_999_999_999_999)} {
		if got, want := millis13(at), fmt.Sprintf("%013d", at.UnixMilli()); got != want {
			t.Errorf("%v: %q, want %q", at, got, want)
		}
	}
}
