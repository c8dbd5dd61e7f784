package global

import (
	"errors"
	"time"
)

// Sentinel errors. Layers below the handlers return these (or wrap them); one
// function in package response turns them into a status, code and message.
var (
	// ErrInvalidRequest: missing or malformed fields, bad JSON.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrBodyTooLarge: the request body is over the limit.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrUnsupportedMediaType: a content type the route does not read.
	ErrUnsupportedMediaType = errors.New("unsupported content type")
	// ErrInvalidCredentials: login failed (unknown user or wrong password).
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrWrongPassword: a signed-in user's re-authentication failed.
	ErrWrongPassword = errors.New("wrong password")
	// ErrUserNotFound: no such user (never shown as such to a client).
	ErrUserNotFound = errors.New("user not found")
	// ErrCrossSite: a cookie-borne request without the proof that it came
	// from an allowed page (X-Requested-With, allowed Origin): CSRF.
	ErrCrossSite = errors.New("cross-site request refused: send X-Requested-With from an allowed origin")
	// ErrConflict: the resource exists already (a taken username).
	ErrConflict = errors.New("conflict")
	// ErrNotFound: no such route or resource.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: too many attempts; see RetryAfter.
	ErrRateLimited = errors.New("too many requests")
	// ErrStoreUnavailable: Redis did not answer. Always a 503, never a 401:
	// a 401 makes a front end log its user out over an outage.
	ErrStoreUnavailable = errors.New("session store unavailable")
	// ErrBusy: too much work in flight (password hashing); try again soon.
	ErrBusy = errors.New("server busy")

	// Second factor (SPEC §11).

	// ErrMFARequired: a second factor is needed (ADMIN_MFA, or the first
	// step of a login of a user with TOTP on).
	ErrMFARequired = errors.New("a second factor is required")
	// ErrWrongCode: a signed-in user's TOTP or recovery code is wrong or was
	// used already (403: the session is fine, only the code failed).
	ErrWrongCode = errors.New("wrong code")
	// ErrInvalidCode: the code of the second login step is wrong or was used
	// already (401, like a wrong password).
	ErrInvalidCode = errors.New("invalid code")
	// ErrMFAActive: TOTP is on already (enroll, confirm).
	ErrMFAActive = errors.New("two-factor authentication is already on")
	// ErrMFAInactive: TOTP is off (disable, new recovery codes).
	ErrMFAInactive = errors.New("two-factor authentication is not on")
	// ErrNoEnrollment: confirm without a pending enrollment (none, or older
	// than 10 minutes).
	ErrNoEnrollment = errors.New("no enrollment pending: start again with POST /user/mfa/totp/enroll")
	// ErrDataKey: a stored secret does not decrypt with DATA_KEY (a wrong or
	// changed key). A 503: the second factor cannot be checked, so nothing
	// passes, and nothing is charged to the user.
	ErrDataKey = errors.New("stored secret cannot be decrypted with DATA_KEY")

	// ErrInvalidToken is the parent of every token failure: each one below
	// matches errors.Is(err, ErrInvalidToken) and answers 401 invalid_token.
	ErrInvalidToken = errors.New("invalid token")
)

// Roles and administration (SPEC §10).
var (
	// ErrForbidden: signed in, but a required role is missing (403 forbidden).
	ErrForbidden = errors.New("forbidden: a required role is missing")
	// ErrAccountLocked: the right credentials of an account an admin locked.
	ErrAccountLocked = errors.New("account locked")
	// ErrLastAdmin: the change would leave no unlocked admin (409 conflict).
	ErrLastAdmin = errors.New("that would leave no unlocked admin")
	// ErrAccountChanged: the account changed between reading it and
	// writing a session for it (roles, lock, password); the caller reads it
	// again; should it change on every read, the client gets 409.
	ErrAccountChanged = errors.New("account changed meanwhile")
)

// A password change racing another change of the account (review 1,
// finding 2).
var (
	// ErrChangedMeanwhile: the account changed twice while the user's own
	// password change was being checked (409 conflict: send it again).
	ErrChangedMeanwhile = errors.New("the account changed meanwhile")
)

// Passkeys (SPEC §12).
var (
	// ErrPasskeyRefused: a passkey sign-in failed (unknown or deleted
	// credential, bad signature, spent or expired challenge, wrong origin,
	// no user verification, sign count gone backwards). Wrapped with the
	// reason for the log; the client sees one answer for all of them.
	ErrPasskeyRefused = errors.New("passkey not accepted")
	// ErrPasskeyInvalid: a passkey registration failed (spent or expired
	// challenge, bad attestation, wrong origin, no user verification).
	ErrPasskeyInvalid = errors.New("passkey not registered")
	// ErrTooManyPasskeys: the user holds the most passkeys allowed.
	ErrTooManyPasskeys = errors.New("too many passkeys")
)

// Token failures, each with its own reason (for logs and metrics) and the
// common parent ErrInvalidToken (for the client).
var (
	ErrTokenMissing   = tokenError("token missing", "missing")
	ErrTokenMalformed = tokenError("token malformed", "malformed")
	ErrTokenSignature = tokenError("token signature invalid", "bad_signature")
	ErrTokenAlgorithm = tokenError("token algorithm not accepted", "bad_algorithm")
	ErrTokenExpired   = tokenError("token expired", "expired")
	ErrTokenNotYet    = tokenError("token not valid yet", "not_yet_valid")
	ErrTokenClaims    = tokenError("token claims invalid", "bad_claims")
	ErrTokenIssuer    = tokenError("token issuer not accepted", "bad_issuer")
	ErrTokenType      = tokenError("wrong token type", "wrong_type")
	ErrTokenRevoked   = tokenError("token revoked", "revoked")
	// ErrTokenReused: a refresh token that was already rotated away came back;
	// the whole session has been revoked (RFC 9700 §4.14).
	ErrTokenReused = tokenError("refresh token reused; session revoked", "reuse_detected")
	// ErrTokenRaced: a refresh token rotated away moments ago came back within
	// REFRESH_REUSE_GRACE; refused, but the session lives on.
	ErrTokenRaced = tokenError("refresh token already used", "reuse_in_grace")
	// ErrTokenMFA: an mfaToken that is unknown, spent, expired or dead after
	// too many wrong codes.
	ErrTokenMFA = tokenError("mfa token invalid, used or expired: log in again", "mfa_token")
)

// reasonError is a token failure with a short label for metrics.
type reasonError struct{ msg, label string }

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return ErrInvalidToken }

func tokenError(msg, label string) error { return &reasonError{msg, label} }

// TokenReason is the metrics label of a token failure ("expired",
// "revoked" …), or "" when err is not one.
func TokenReason(err error) string {
	var r *reasonError
	if errors.As(err, &r) {
		return r.label
	}
	return ""
}

// RetryError asks the client to come back after After (Retry-After header);
// it wraps ErrRateLimited, ErrBusy or ErrStoreUnavailable.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// DPoP failures (SPEC §14, RFC 9449). Each failure is a reasoned error (for
// metrics, see DPoPReason) under one of two parents: ErrDPoPProof answers
// invalid_dpop_proof, ErrDPoPNonce answers use_dpop_nonce. On resource
// requests they are 401s; at login and refresh, wrapped by TokenEndpoint,
// 400s (RFC 9449 §5).
var (
	ErrDPoPProof = errors.New("invalid DPoP proof")
	ErrDPoPNonce = errors.New("DPoP proof without a current server nonce")
	// ErrDPoPProofBadRequest and ErrDPoPNonceBadRequest mark the same
	// failures at login and refresh (TokenEndpoint).
	ErrDPoPProofBadRequest = errors.New("invalid DPoP proof at the token endpoint")
	ErrDPoPNonceBadRequest = errors.New("missing DPoP nonce at the token endpoint")

	// ErrDPoPKeyMismatch: the proof is valid but by another key than the
	// one the token or session is bound to.
	ErrDPoPKeyMismatch = DPoPError("DPoP proof signed by another key than the one the token is bound to", "key_mismatch", false)
	// ErrDPoPMissing: no DPoP header where one is needed.
	ErrDPoPMissing = DPoPError("DPoP proof missing: send a DPoP header", "missing", false)
	// ErrDPoPSessionUnbound: with DPOP=required, the refresh of a session
	// that was never bound (opened before DPoP was required).
	ErrDPoPSessionUnbound = DPoPError("this session is not bound to a DPoP key, which is required: log in again with a DPoP proof", "session_unbound", false)

	// ErrTokenBound: a DPoP-bound access token sent as Bearer. It is a token
	// failure (401 invalid_token): the token alone proves nothing.
	ErrTokenBound = tokenError("token is bound to a DPoP key: send it as Authorization: DPoP with a proof", "dpop_bound")
	// ErrTokenNotBound: a token without cnf sent as Authorization: DPoP.
	ErrTokenNotBound = tokenError("token is not bound to a DPoP key: send it as Bearer", "dpop_not_bound")
	// ErrTokenDPoPRequired: a Bearer access token while DPOP=required.
	ErrTokenDPoPRequired = tokenError("DPoP-bound tokens required: send Authorization: DPoP with a proof", "dpop_required")
)

// dpopError is a DPoP failure with a short label for metrics.
type dpopError struct {
	msg, label string
	parent     error
}

func (e *dpopError) Error() string { return e.msg }
func (e *dpopError) Unwrap() error { return e.parent }

// DPoPError returns a DPoP failure with its metrics label: under
// ErrDPoPNonce when nonce is set, else under ErrDPoPProof.
func DPoPError(msg, label string, nonce bool) error {
	if nonce {
		return &dpopError{msg, label, ErrDPoPNonce}
	}
	return &dpopError{msg, label, ErrDPoPProof}
}

// DPoPReason is the metrics label of a DPoP failure ("replayed",
// "bad_htu" …), or "" when err is not one.
func DPoPReason(err error) string {
	var d *dpopError
	if errors.As(err, &d) {
		return d.label
	}
	return ""
}

// endpointError is a DPoP failure at login or refresh: it matches its own
// error and the bad-request marker of its kind.
type endpointError struct{ err, marker error }

func (e *endpointError) Error() string   { return e.err.Error() }
func (e *endpointError) Unwrap() []error { return []error{e.marker, e.err} }

// TokenEndpoint returns err as login and refresh answer it: a DPoP failure
// there is a 400 (RFC 9449 §5), not the 401 of a resource request. Other
// errors are returned as they are.
func TokenEndpoint(err error) error {
	switch {
	case errors.Is(err, ErrDPoPNonce):
		return &endpointError{err, ErrDPoPNonceBadRequest}
	case errors.Is(err, ErrDPoPProof):
		return &endpointError{err, ErrDPoPProofBadRequest}
	}
	return err
}
