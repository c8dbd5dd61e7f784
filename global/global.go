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

// Keys of roles and administration (SPEC §10). A user's roles, lock and
// account version live in the user's own hash (KeyUser); these two are the
// only keys shared by every user, each a single key (one slot on a Cluster).
const (
	// KeyUserIndex is a sorted set of every username (score 0), paged by
	// name with ZRANGEBYLEX for the admin listing.
	KeyUserIndex = "users"
	// KeyAdmins is a hash of the unlocked admins (name → the ticket of the
	// change that made them one) and tombstones of former ones (→ minus
	// the ticket), plus the ticket counter in field "#": the one place the
	// last-admin check is decided atomically (utils/accounts).
	KeyAdmins = "admins"
)

// RoleAdmin is the role the /admin group requires.
const RoleAdmin = "admin"

// Authentication methods of the amr claim (RFC 8176 §2).
const (
	// AMRPassword: a password login.
	AMRPassword = "pwd"
	// AMROTP: a one-time password: a TOTP code or a recovery code.
	AMROTP = "otp"
	// AMRHardwareKey: proof of possession of a hardware-bound key (a passkey).
	AMRHardwareKey = "hwk"
)

// Redis key prefix of the second factor (utils/mfa): KeyMFA + "{name}" is
// a hash with the user's TOTP state; KeyMFA + "{name}:rc" the set of
// recovery code hashes; KeyMFA + "{name}:c:" + id a login challenge.
const KeyMFA = "m:"

// Redis keys of passkeys (utils/passkey, SPEC §12).
const (
	// KeyPasskeys + "{name}" is a hash with the user's WebAuthn user handle
	// (field "h") and, per credential id, its record ("c:"+id), sign count
	// ("n:"+id) and last use ("l:"+id).
	KeyPasskeys = "pk:"
	// KeyPasskeyHandle + handle is a string naming the user whose user
	// handle that is: usernameless sign-in finds the user from it.
	KeyPasskeyHandle = "pkh:"
	// KeyPasskeyCeremony + "r:{name}:" + id (registration) or "l:" + id
	// (sign-in) is the state of one ceremony, kept 5 minutes, used once.
	KeyPasskeyCeremony = "pkc:"
)

// The User-Agent table (utils/useragent.go).
const (
	// KeyUserAgent + hex(8 bytes of SHA-256) is a string with one distinct
	// User-Agent's text, shared by every session that names it; the only key
	// outside a user's hash tag, written by a single-key script. Under "s:"
	// (no session key has "ua:" where their "{" is), so ACL users granted
	// ~s:* (docs/SCALING.md) need no new rule.
	KeyUserAgent = "s:ua:"
)

// DPoP (SPEC §14): a proof's jti, once used, is kept under KeyDPoPJTI + 16
// raw bytes of SHA-256 of the proof key's thumbprint and the jti, for a
// little longer than a proof is accepted. One key per proof, no hash tag
// needed: no script touches it together with another key.
const KeyDPoPJTI = "dpop:"
