// Package response writes the API's answers: JSON errors
// {"error","message"} with the right status for each sentinel error (one
// mapping for the whole API), and the token pair.
package response

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/utils"
)

// Body is the JSON of every error answer.
type Body struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Error codes (SPEC §4).
const (
	CodeInvalidRequest     = "invalid_request"
	CodeInvalidCredentials = "invalid_credentials" //nolint:gosec // an error code, not a credential
	CodeInvalidToken       = "invalid_token"
	CodeNotFound           = "not_found"
	CodeConflict           = "conflict"
	CodeRateLimited        = "rate_limited"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal_error"
	// CodeMFARequired: a second factor is needed (SPEC §11, §15).
	CodeMFARequired = "mfa_required"
)

// Error codes added by SPEC §10 (roles and administration).
const (
	CodeForbidden     = "forbidden"
	CodeAccountLocked = "account_locked"
)

// DPoP error codes (SPEC §14, RFC 9449 §7.1 and §8).
const (
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	CodeUseDPoPNonce     = "use_dpop_nonce"
)

// rule maps one sentinel to an answer. An empty message means: use the
// error's own text, which for these errors is written for a person and holds
// nothing secret.
type rule struct {
	err     error
	status  int
	code    string
	message string
}

// rules is checked in order with errors.Is; the first match wins.
var rules = []rule{
	{global.ErrBodyTooLarge, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body too large"},
	{global.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, CodeInvalidRequest, "send JSON, an urlencoded form or a multipart form"},
	{global.ErrInvalidRequest, http.StatusBadRequest, CodeInvalidRequest, ""},
	{global.ErrInvalidCredentials, http.StatusUnauthorized, CodeInvalidCredentials, "invalid username or password"},
	{global.ErrWrongPassword, http.StatusForbidden, CodeInvalidCredentials, "the current password is wrong"},
	{global.ErrCrossSite, http.StatusForbidden, CodeInvalidRequest, ""},
	{global.ErrInvalidToken, http.StatusUnauthorized, CodeInvalidToken, ""},
	{global.ErrNotFound, http.StatusNotFound, CodeNotFound, "not found"},
	{global.ErrConflict, http.StatusConflict, CodeConflict, "username already taken"},
	{global.ErrRateLimited, http.StatusTooManyRequests, CodeRateLimited, "too many attempts, try again later"},
	{global.ErrBusy, http.StatusServiceUnavailable, CodeUnavailable, "server busy, try again shortly"},
	{global.ErrStoreUnavailable, http.StatusServiceUnavailable, CodeUnavailable, "service temporarily unavailable, try again shortly"},

	// Roles and administration (SPEC §10).
	{global.ErrForbidden, http.StatusForbidden, CodeForbidden, "this needs a role you do not have"},
	{global.ErrAccountLocked, http.StatusForbidden, CodeAccountLocked, "this account is locked; ask an administrator"},
	{global.ErrLastAdmin, http.StatusConflict, CodeConflict, "that would leave no unlocked admin"},

	// Second factor (SPEC §11).
	{global.ErrMFARequired, http.StatusForbidden, CodeMFARequired, "a second factor is required: sign in with your authenticator app or a passkey"},
	{global.ErrWrongCode, http.StatusForbidden, CodeInvalidCredentials, "the code is wrong or was used already"},
	{global.ErrInvalidCode, http.StatusUnauthorized, CodeInvalidCredentials, "invalid code"},
	{global.ErrMFAActive, http.StatusConflict, CodeConflict, ""},
	{global.ErrMFAInactive, http.StatusConflict, CodeConflict, ""},
	{global.ErrNoEnrollment, http.StatusConflict, CodeConflict, ""},
	{global.ErrDataKey, http.StatusServiceUnavailable, CodeUnavailable, "the second factor cannot be checked right now, try again later"},

	// Passkeys (SPEC §12).
	{global.ErrPasskeyRefused, http.StatusUnauthorized, CodeInvalidCredentials, "passkey not accepted"},
	{global.ErrPasskeyInvalid, http.StatusBadRequest, CodeInvalidRequest, "the passkey was not registered: start again"},
	{global.ErrTooManyPasskeys, http.StatusConflict, CodeConflict, "too many passkeys: delete one first"},

	// DPoP: 400 at login and refresh (global.TokenEndpoint), else 401.
	{global.ErrDPoPNonceBadRequest, http.StatusBadRequest, CodeUseDPoPNonce, ""},
	{global.ErrDPoPProofBadRequest, http.StatusBadRequest, CodeInvalidDPoPProof, ""},
	{global.ErrDPoPNonce, http.StatusUnauthorized, CodeUseDPoPNonce, ""},
	{global.ErrDPoPProof, http.StatusUnauthorized, CodeInvalidDPoPProof, ""},

	// A password change racing another change of the account.
	{global.ErrChangedMeanwhile, http.StatusConflict, CodeConflict, "the account changed meanwhile: send the change again"},
	// A sign-in or refresh whose account changed again on every one of its
	// reads (login, rotation): as above, never a 500.
	{global.ErrAccountChanged, http.StatusConflict, CodeConflict, "the account changed meanwhile: send the request again"},
}

// Status maps err to its HTTP status, error code and message. Errors it does
// not know are 500 with a generic message: their text may hold internals.
func Status(err error) (status int, code, message string) {
	for _, r := range rules {
		if errors.Is(err, r.err) {
			if r.message == "" {
				return r.status, r.code, err.Error()
			}
			return r.status, r.code, r.message
		}
	}
	return http.StatusInternalServerError, CodeInternal, "internal error"
}

// RequestIDHeader is X-Request-ID in the canonical form net/http keys
// headers by, so it is looked up and set without canonicalising per request.
const RequestIDHeader = "X-Request-Id"

// RequestID is this request's id (middleware.RequestID), read from the
// X-Request-ID header of its answer, where that middleware put it before
// anything else ran: one place holds it, and a request pays nothing to
// store it a second time for the few that read it (log lines). Read after
// the answer is written (c.JSON, c.String…), it costs a copy of the header
// map: net/http clones it when it is asked for it between the answer's
// write and the flush that sends it. That is fine for a line about a rare
// event; the access log reads the id before the handler runs.
func RequestID(c *gin.Context) string {
	if v := c.Writer.Header()[RequestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Error aborts the request with the answer for err. 503 and 429 carry
// Retry-After. Unknown errors are logged with the request id.
func Error(c *gin.Context, err error) {
	status, code, msg := Status(err)
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		after := time.Second
		var re *global.RetryError
		if errors.As(err, &re) && re.After > after {
			after = re.After
		}
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
	case http.StatusInternalServerError:
		slog.Default().Error("request failed", "request_id", RequestID(c), "err", err.Error())
	}
	_ = c.Error(err) // for the access log's reason and the metrics
	c.AbortWithStatusJSON(status, Body{Error: code, Message: msg})
}

// Challenge sets RFC 6750's WWW-Authenticate header of a 401 on a Bearer
// route: error="invalid_token" only when a token was presented.
func Challenge(c *gin.Context, presented bool) {
	if presented {
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	} else {
		c.Header("WWW-Authenticate", "Bearer")
	}
}

// TokenPair is the JSON answer of login and refresh.
type TokenPair struct {
	AccessToken      string `json:"accessToken"`
	RefreshToken     string `json:"refreshToken"`
	TokenType        string `json:"tokenType"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
}

// Pair answers 200 with p. Tokens must not be cached by any browser or proxy.
func Pair(c *gin.Context, p *utils.Pair) {
	h := c.Writer.Header()
	h["Cache-Control"], h["Pragma"] = noStore, noCache
	pair := TokenPair{
		AccessToken:      p.Access,
		RefreshToken:     p.Refresh,
		TokenType:        tokenType(&p.AccessClaims),
		ExpiresIn:        lifetime(&p.AccessClaims),
		RefreshExpiresIn: lifetime(&p.RefreshClaims),
	}
	if b, ok := appendPair(make([]byte, 0, 96+len(pair.AccessToken)+len(pair.RefreshToken)), &pair); ok {
		h["Content-Type"] = jsonTypes
		c.Writer.WriteHeader(http.StatusOK)
		_, _ = c.Writer.Write(b)
		return
	}
	c.JSON(http.StatusOK, pair)
}

// Header values of every pair answer, shared: net/http only reads them.
var (
	noStore   = []string{"no-store"}
	noCache   = []string{"no-cache"}
	jsonTypes = []string{jsonType}
)

// jwtAlphabet holds the bytes of a JWT: base64url and '.'.
var jwtAlphabet = func() (a [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		a[c] = true
	}
	return a
}()

// jsonType is the Content-Type gin's c.JSON writes.
const jsonType = "application/json; charset=utf-8"

// appendPair appends what c.JSON writes for p (TestPairJSONIsGinsJSON)
// without reflection, on every login and refresh; false when a token has a
// byte outside a JWT's alphabet (base64url and '.'), which encoding/json
// might escape.
func appendPair(b []byte, p *TokenPair) ([]byte, bool) {
	for _, tok := range []string{p.AccessToken, p.RefreshToken} {
		for i := 0; i < len(tok); i++ {
			if !jwtAlphabet[tok[i]] {
				return nil, false
			}
		}
	}
	b = append(b, `{"accessToken":"`...)
	b = append(b, p.AccessToken...)
	b = append(b, `","refreshToken":"`...)
	b = append(b, p.RefreshToken...)
	b = append(b, `","tokenType":"`...)
	b = append(b, p.TokenType...) // "Bearer" or "DPoP"
	b = append(b, `","expiresIn":`...)
	b = strconv.AppendInt(b, p.ExpiresIn, 10)
	b = append(b, `,"refreshExpiresIn":`...)
	b = strconv.AppendInt(b, p.RefreshExpiresIn, 10)
	return append(b, '}'), true
}

// tokenType is "DPoP" for a pair bound to a DPoP key (RFC 9449 §5).
func tokenType(c *utils.Claims) string {
	if c.Cnf != nil {
		return "DPoP"
	}
	return "Bearer"
}

// lifetime is the token's life in seconds from its issue.
func lifetime(c *utils.Claims) int64 { return c.ExpiresAt.Unix() - c.IssuedAt.Unix() }

// MFAChallenge is the answer to the right password of a user with a second
// factor on: no token pair, an mfaToken for POST /public/login/mfa.
type MFAChallenge struct {
	Error    string   `json:"error"`
	Message  string   `json:"message"`
	MFAToken string   `json:"mfaToken"`
	Methods  []string `json:"methods"`
}

// MFARequired answers 403 mfa_required with the mfaToken of the second
// login step and the methods it accepts. Like a token pair, it is not to be
// cached.
func MFARequired(c *gin.Context, token string, methods []string) {
	status, code, _ := Status(global.ErrMFARequired)
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	_ = c.Error(global.ErrMFARequired) // for the access log's reason
	c.AbortWithStatusJSON(status, MFAChallenge{Error: code, Message: "enter a code from your authenticator app, or a recovery code",
		MFAToken: token, Methods: methods})
}
