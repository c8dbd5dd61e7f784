package dpop

// The cache bounds and size, for the tests of the header cache.
const (
	HeaderCacheSize = headerCacheSize
	MaxCachedHeader = maxCachedHeader
)

// CachedHeaders is how many checked headers v holds.
func (v *Verifier) CachedHeaders() int { return v.headers.Len() }
