package initialize

import "runtime/debug"

// The garbage collector's targets when the operator sets neither GOGC nor
// GOMEMLIMIT. The live heap of the request path is small (pools, caches,
// connections: a few MB), so under load Go's default GOGC of 100 collects
// many times a second, and marking and assists were about a tenth of a
// private request's CPU (go run ./bench -profile). 400 collects a quarter as
// often. The soft limit keeps what that costs in memory bounded: a password
// hash holds ARGON2_MEMORY_KIB (64 MiB) while it runs, and at 400 the heap
// after a burst of logins could otherwise grow to five times that. Near the
// limit the collector runs as often as it must (as with GOGC=100 and a
// larger heap). go run ./bench prints the service's peak resident memory.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 192 << 20
)

// tuneGC sets the collector's targets unless the operator chose them.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	debug.SetMemoryLimit(defaultMemoryLimit)
}
