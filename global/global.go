// Package global holds the definitions shared by every layer: the
// configuration type, constants (context keys, Redis key prefixes, token
// types) and sentinel errors. It holds no variable that changes after
// start-up: dependencies are passed down from initialize, never read from here.
package global

// Token types carried in the "type" claim. A private route accepts only
// TokenAccess and the refresh route only TokenRefresh, so one kind of token can
// never stand in for the other.
const (
	TokenAccess  = "access"
	TokenRefresh = "refresh"
)

// Context keys set by middleware and read by handlers.
const (
	// CtxClaims holds the *utils.Claims of a verified access token.
	CtxClaims = "go-jwt.claims"
	// CtxRequestID holds the request id also returned as X-Request-ID.
	CtxRequestID = "go-jwt.request-id"
)

// Redis key prefixes. Every key that one script or transaction touches carries
// the username as a hash tag ({name}) so the same code runs on Redis Cluster.
const (
	// KeyUser + "{name}" is a hash with the user's password hash and the
	// index of the user's sessions (fields "s:" + sid).
	KeyUser = "u:"
	// KeySession + "{name}:" + sid is a string with one session's state.
	KeySession = "s:"
)

// DPoP (SPEC §14): a proof's jti, once used, is kept under KeyDPoPJTI + 16
// raw bytes of SHA-256 of the proof key's thumbprint and the jti, for a
// little longer than a proof is accepted. One key per proof, no hash tag
// needed: no script touches it together with another key.
const KeyDPoPJTI = "dpop:"
