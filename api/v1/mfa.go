package v1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/utils"
	"go-jwt/utils/mfa"
)

// The second factor (SPEC §11): TOTP enrollment and management on the
// private group, and the second step of a login on the public one.

// LoginFactor is what a login needs of the second factor (mfa.Store).
type LoginFactor interface {
	Enabled(ctx context.Context, user string) (bool, error)
	NewChallenge(ctx context.Context, user, account string) (string, error)
	Challenge(ctx context.Context, token string) (user, account string, err error)
	Redeem(ctx context.Context, token, code string, recoveryOnly bool) (string, error)
}

// SecondFactor manages a signed-in user's TOTP and recovery codes
// (mfa.Store).
type SecondFactor interface {
	Enroll(ctx context.Context, user string) (mfa.Enrollment, error)
	Confirm(ctx context.Context, user, code string) ([]string, error)
	Disable(ctx context.Context, user, code string) error
	RegenerateRecoveryCodes(ctx context.Context, user, code string) ([]string, error)
	Status(ctx context.Context, user string) (mfa.Status, error)
}

// PasskeyCounter counts a user's passkeys for GET /user/mfa.
type PasskeyCounter interface {
	Count(ctx context.Context, user string) (int, error)
}

// mfaMethods are the second-step methods an mfaToken accepts.
var mfaMethods = []string{"totp", "recovery_code"}

// challenge answers 403 mfa_required with an mfaToken bound to the account
// version, and reports true, if acct (whose password was right) has a
// second factor on. A Redis failure is an error: never a login without the
// second factor.
func (h *Public) challenge(c *gin.Context, acct utils.Account) (bool, error) {
	ctx, name := c.Request.Context(), acct.Name
	on, err := h.MFA.Enabled(ctx, name)
	if err != nil || !on {
		return false, err
	}
	token, err := h.MFA.NewChallenge(ctx, name, acct.Version)
	if err != nil {
		return false, err
	}
	h.Log.Info("second factor required", "user", name, "ip", c.ClientIP(), "request_id", response.RequestID(c))
	response.MFARequired(c, token, mfaMethods)
	return true, nil
}

// LoginMFA is the second login step: {"mfaToken","code"} (a TOTP code, or
// a recovery code) or {"mfaToken","recoveryCode"}: 200 with a token pair,
// amr ["pwd","otp"]. A wrong code is 401 invalid_credentials, charged to the
// user's failure budget (429 past it) and to the token, which dies after
// mfa.MaxAttempts of them; a spent, expired or dead token is 401
// invalid_token.
func (h *Public) LoginMFA(c *gin.Context) {
	f, err := fields(c, "mfaToken", "code", "recoveryCode")
	if err == nil {
		err = required(f, "mfaToken")
	}
	code, recoveryOnly := f["code"], false
	switch {
	case err != nil:
	case code != "" && f["recoveryCode"] != "":
		err = fmt.Errorf("%w: send code or recoveryCode, not both", global.ErrInvalidRequest)
	case code == "" && f["recoveryCode"] == "":
		err = fmt.Errorf("%w: code or recoveryCode is required", global.ErrInvalidRequest)
	case code == "":
		code, recoveryOnly = f["recoveryCode"], true
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	ctx, ip := c.Request.Context(), c.ClientIP()
	jkt, err := h.DPoP.bind(c) // before the code is spent
	if err != nil {
		h.DPoP.refuse(c, err)
		return
	}
	user, account, err := h.MFA.Challenge(ctx, f["mfaToken"])
	read := func() (utils.Account, error) {
		acct, err := h.Users.Account(ctx, user)
		if errors.Is(err, global.ErrUserNotFound) {
			err = global.ErrTokenMFA // deleted between the two steps
		}
		return acct, err
	}
	// The account must still be the one whose password was checked, before
	// any code is spent: locked meanwhile is 403 account_locked; deleted
	// (maybe registered again), or its password, roles or lock changed, the
	// token is dead (401 invalid_token: log in again).
	var acct utils.Account
	if err == nil {
		acct, err = read()
	}
	switch {
	case err != nil:
	case acct.Locked:
		err = global.ErrAccountLocked
	case acct.Version != account:
		err = global.ErrTokenMFA
	}
	if err != nil {
		h.refused(c, user, err)
		return
	}
	err = withBudget(c, h.Limiter, h.Log, user, func() error {
		_, err := h.MFA.Redeem(ctx, f["mfaToken"], code, recoveryOnly)
		return err
	})
	if errors.Is(err, global.ErrWrongCode) {
		err = global.ErrInvalidCode
	}
	if err != nil {
		mfaError(c, h.Log, user, err)
		return
	}
	h.Log.Info("second factor passed", "user", user, "ip", ip, "request_id", response.RequestID(c))
	// The code is spent: should the account change before the session is
	// written, the mfaToken's password check no longer holds; log in again.
	reread := func() (utils.Account, error) {
		acct, err := read()
		if err == nil && acct.Version != account {
			err = global.ErrTokenMFA
		}
		return acct, err
	}
	h.open(c, acct, reread, jkt, global.AMRPassword, global.AMROTP)
}

// withBudget runs check, a code check of user, within the user's and the
// client IP's failure budget (the one failed passwords spend): past it, 429
// before any check; a wrong code is charged.
func withBudget(c *gin.Context, limiter Limiter, log *slog.Logger, user string, check func() error) error {
	ctx, ip := c.Request.Context(), c.ClientIP()
	if err := limiter.Check(ctx, user, ip); err != nil {
		if errors.Is(err, global.ErrRateLimited) {
			log.Warn("rate limited", "user", user, "ip", ip, "request_id", response.RequestID(c))
		}
		return err
	}
	err := check()
	if errors.Is(err, global.ErrWrongCode) {
		log.Warn("wrong second factor code", "user", user, "ip", ip, "request_id", response.RequestID(c))
		if ferr := limiter.Fail(ctx, user, ip); ferr != nil {
			return ferr
		}
	}
	return err
}

// mfaError answers err; a secret that DATA_KEY does not decrypt is also
// logged for the operator (the client is told only that the second factor
// cannot be checked).
func mfaError(c *gin.Context, log *slog.Logger, user string, err error) {
	if errors.Is(err, global.ErrDataKey) {
		log.Error("a stored TOTP secret does not decrypt: DATA_KEY is not the key it was stored with",
			"user", user, "request_id", response.RequestID(c))
	}
	response.Error(c, err)
}

// MFA serves the signed-in user's second-factor routes; middleware.JWT has
// verified the access token. Wrong passwords and codes are 403
// invalid_credentials (the session is fine, only the re-authentication
// failed), charged to the same failure budget as failed logins.
type MFA struct {
	Factors  SecondFactor
	Passkeys PasskeyCounter
	// Who may enroll TOTP: a user with a second factor, only from a session
	// opened with one.
	StepUp   StepUp
	Sessions SessionStore
	Users    UserStore
	Hasher   PasswordHasher
	Limiter  Limiter
	Events   Events
	Log      *slog.Logger
}

// Enroll starts TOTP enrollment ({"password"}): 200 {"secret","uri","qrPng"},
// pending for 10 minutes until confirmed; 409 if TOTP is on already. A
// user with a passkey needs a session opened with a second factor (StepUp),
// else 403 mfa_required, before the password is checked.
func (h *MFA) Enroll(c *gin.Context) {
	claims := middleware.Claims(c)
	user := claims.Username
	err := h.StepUp.Check(c.Request.Context(), claims)
	if err == nil {
		_, err = h.reauth(c, user)
	}
	var e mfa.Enrollment
	if err == nil {
		e, err = h.Factors.Enroll(c.Request.Context(), user)
	}
	if err != nil {
		mfaError(c, h.Log, user, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, e)
}

// Confirm turns TOTP on with a code of the pending secret ({"code"}): 200
// {"recoveryCodes"}, shown this once. Every other session of the user is
// revoked: they were opened with the password alone. StepUp is checked
// again (a passkey added since the enroll counts).
func (h *MFA) Confirm(c *gin.Context) {
	claims := middleware.Claims(c)
	ctx := c.Request.Context()
	f, err := fields(c, "code")
	if err == nil {
		err = required(f, "code")
	}
	if err == nil {
		err = h.StepUp.Check(ctx, claims)
	}
	var codes []string
	if err == nil {
		err = withBudget(c, h.Limiter, h.Log, claims.Username, func() (err error) {
			codes, err = h.Factors.Confirm(ctx, claims.Username, f["code"])
			return err
		})
	}
	var n int
	if err == nil {
		n, err = h.Sessions.RevokeAll(ctx, claims.Username, claims.SessionID)
	}
	if err != nil {
		mfaError(c, h.Log, claims.Username, err)
		return
	}
	h.Events.Revoked("mfa-enabled", n)
	h.event(c, "second factor on", "revoked", n)
	codesAnswer(c, codes)
}

// Disable turns TOTP and the recovery codes off ({"password","code"}, the
// code a TOTP code or a recovery code): 204.
func (h *MFA) Disable(c *gin.Context) {
	user := middleware.Claims(c).Username
	f, err := h.reauth(c, user, "code")
	if err == nil {
		err = withBudget(c, h.Limiter, h.Log, user, func() error {
			return h.Factors.Disable(c.Request.Context(), user, f["code"])
		})
	}
	if err != nil {
		mfaError(c, h.Log, user, err)
		return
	}
	h.event(c, "second factor off")
	c.Status(http.StatusNoContent)
}

// RecoveryCodes replaces the recovery codes by a new set
// ({"password","code"}): 200 {"recoveryCodes"}; the old set stops working.
func (h *MFA) RecoveryCodes(c *gin.Context) {
	user := middleware.Claims(c).Username
	f, err := h.reauth(c, user, "code")
	var codes []string
	if err == nil {
		err = withBudget(c, h.Limiter, h.Log, user, func() (err error) {
			codes, err = h.Factors.RegenerateRecoveryCodes(c.Request.Context(), user, f["code"])
			return err
		})
	}
	if err != nil {
		mfaError(c, h.Log, user, err)
		return
	}
	h.event(c, "recovery codes replaced")
	codesAnswer(c, codes)
}

// Status answers {"totp","recoveryCodesLeft","passkeys"}.
func (h *MFA) Status(c *gin.Context) {
	ctx, user := c.Request.Context(), middleware.Claims(c).Username
	st, err := h.Factors.Status(ctx, user)
	var passkeys int
	if err == nil {
		passkeys, err = h.Passkeys.Count(ctx, user)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"totp": st.TOTP, "recoveryCodesLeft": st.RecoveryCodesLeft, "passkeys": passkeys})
}

// reauth reads the body's password (and the other fields named, all
// required) and checks the password: 403 invalid_credentials when wrong.
func (h *MFA) reauth(c *gin.Context, user string, more ...string) (map[string]string, error) {
	names := append([]string{"password"}, more...)
	f, err := fields(c, names...)
	if err == nil {
		err = required(f, names...)
	}
	if err == nil {
		_, err = checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, user, f["password"], global.ErrWrongPassword)
	}
	return f, err
}

// event logs a change of the user's second factor as a security event.
func (h *MFA) event(c *gin.Context, msg string, args ...any) {
	args = append(args, "user", middleware.Claims(c).Username, "ip", c.ClientIP(), "request_id", response.RequestID(c))
	h.Log.Info(msg, args...)
}

// codesAnswer shows a fresh set of recovery codes, never to be cached.
func codesAnswer(c *gin.Context, codes []string) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"recoveryCodes": codes})
}
