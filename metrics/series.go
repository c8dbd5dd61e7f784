package metrics

import (
	"sync"
	"sync/atomic"
)

// maxCached bounds a series cache: label values come partly from requests
// (an unknown method reaches the "unmatched" route), so past this many the
// rest are looked up in the vector each time instead of cached.
const maxCached = 1024

// series caches the children of a metric vector by their label values, so a
// request looks its children up in a plain map (read without a lock: the map
// is replaced, never changed) instead of hashing label strings in the
// vector each time.
type series[K comparable, V any] struct {
	mu      sync.Mutex
	m       atomic.Pointer[map[K]V]
	resolve func(K) V
}

func newSeries[K comparable, V any](resolve func(K) V) *series[K, V] {
	s := &series[K, V]{resolve: resolve}
	s.m.Store(&map[K]V{})
	return s
}

// get returns the children for k, resolving them on first use.
func (s *series[K, V]) get(k K) V {
	if v, ok := (*s.m.Load())[k]; ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if v, ok := old[k]; ok {
		return v
	}
	v := s.resolve(k)
	if len(old) >= maxCached {
		return v
	}
	next := make(map[K]V, len(old)+1)
	for key, val := range old {
		next[key] = val
	}
	next[k] = v
	s.m.Store(&next)
	return v
}
