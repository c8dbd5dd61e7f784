package v1

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/utils"
	"go-jwt/utils/passkey"
)

// AMRPasskey is the amr of a passkey sign-in (RFC 8176 "hwk": proof of
// possession of a hardware-secured key). User verification is required, so
// it stands for two factors: no TOTP code is asked after it.
const AMRPasskey = global.AMRHardwareKey

// maxCredentialID bounds a passkey id in a path: WebAuthn credential ids
// are at most 1023 bytes.
const maxCredentialID = 1023

// PasskeyService runs the WebAuthn ceremonies and keeps the passkeys
// (passkey.RP).
type PasskeyService interface {
	BeginRegistration(ctx context.Context, name string) (passkey.Ceremony, error)
	FinishRegistration(ctx context.Context, name, challengeID, label string, credential []byte) (passkey.Passkey, error)
	List(ctx context.Context, name string) ([]passkey.Passkey, error)
	Delete(ctx context.Context, name, id string) error
	BeginLogin(ctx context.Context) (passkey.Ceremony, error)
	FinishLogin(ctx context.Context, challengeID string, credential []byte) (string, error)
}

type Passkeys struct {
	Passkeys PasskeyService
	// Who may add a passkey: a user with a second factor, only from a
	// session opened with one.
	StepUp StepUp
	// For the password re-entered at registration, and the account (still
	// there, not locked, its roles) a sign-in opens a session of.
	Users   UserStore
	Hasher  PasswordHasher
	Limiter Limiter
	// For the session a sign-in opens.
	Tokens   Tokens
	Sessions SessionStore
	Events   Events
	Cookies  Cookies
	// DPoP binds the pair of a sign-in to the client's key (dpop.go); nil:
	// DPOP=off.
	DPoP *DPoP
	Log  *slog.Logger
	Now  func() time.Time
}

// RegisterBegin starts adding a passkey ({"password"}): 200
// {"challengeId","publicKey"}. The password is asked again, so a stolen
// access token alone cannot plant a passkey for its thief; a wrong one is
// 403 and charged to the same failure budget as a failed login. A user with
// a second factor already needs a session opened with one (StepUp), else 403
// mfa_required, before the password is checked.
func (h *Passkeys) RegisterBegin(c *gin.Context) {
	claims := middleware.Claims(c)
	f, err := fields(c, "password")
	if err == nil {
		err = h.StepUp.Check(c.Request.Context(), claims)
	}
	if err == nil {
		err = required(f, "password")
	}
	if err == nil {
		_, err = checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, claims.Username, f["password"], global.ErrWrongPassword)
	}
	var cer passkey.Ceremony
	if err == nil {
		cer, err = h.Passkeys.BeginRegistration(c.Request.Context(), claims.Username)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	ceremony(c, cer)
}

// registerFinish is the body of POST /user/passkeys/register/finish.
type registerFinish struct {
	ChallengeID string          `json:"challengeId"`
	Name        string          `json:"name"`
	Credential  json.RawMessage `json:"credential"`
}

// RegisterFinish stores the new passkey: 201 {"id","name","createdAt"}.
// StepUp is checked again (a factor added since the begin counts).
func (h *Passkeys) RegisterFinish(c *gin.Context) {
	claims := middleware.Claims(c)
	var body registerFinish
	err := decodeJSON(c, &body)
	if err == nil {
		err = ceremonyFields(body.ChallengeID, body.Credential)
	}
	if err == nil {
		err = h.StepUp.Check(c.Request.Context(), claims)
	}
	var p passkey.Passkey
	if err == nil {
		p, err = h.Passkeys.FinishRegistration(c.Request.Context(), claims.Username, body.ChallengeID, body.Name, body.Credential)
	}
	if err != nil {
		h.refused(c, "passkey registration refused", claims.Username, err)
		response.Error(c, err)
		return
	}
	h.Log.Info("passkey added", "user", claims.Username, "passkey", p.ID, "request_id", response.RequestID(c))
	c.JSON(http.StatusCreated, gin.H{"id": p.ID, "name": p.Name, "createdAt": p.CreatedAt})
}

// List answers the user's passkeys, newest first.
func (h *Passkeys) List(c *gin.Context) {
	list, err := h.Passkeys.List(c.Request.Context(), middleware.Claims(c).Username)
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"passkeys": list})
}

// Delete removes one of the user's own passkeys: 204; it stops working at
// once. Passkeys are looked up under the caller's name only, so another
// user's id is not found (404), exactly like an unknown one.
func (h *Passkeys) Delete(c *gin.Context) {
	name, id := middleware.Claims(c).Username, c.Param("id")
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 || len(raw) > maxCredentialID {
		response.Error(c, global.ErrNotFound)
		return
	}
	if err := h.Passkeys.Delete(c.Request.Context(), name, id); err != nil {
		response.Error(c, err)
		return
	}
	h.Log.Info("passkey deleted", "user", name, "passkey", id, "request_id", response.RequestID(c))
	c.Status(http.StatusNoContent)
}

// LoginBegin starts a usernameless sign-in: 200 {"challengeId","publicKey"}.
// Each one keeps a few hundred bytes in Redis for 5 minutes, so each spends
// a unit of the client IP's budget (429 past it), like a registration.
func (h *Passkeys) LoginBegin(c *gin.Context) {
	err := h.Limiter.Attempt(c.Request.Context(), c.ClientIP())
	var cer passkey.Ceremony
	if err == nil {
		cer, err = h.Passkeys.BeginLogin(c.Request.Context())
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	ceremony(c, cer)
}

// loginFinish is the body of POST /public/passkeys/login/finish.
type loginFinish struct {
	ChallengeID string          `json:"challengeId"`
	Credential  json.RawMessage `json:"credential"`
}

// LoginFinish checks the assertion and opens a session: 200 token pair with
// amr ["hwk"]. Any failure of the passkey is 401 invalid_credentials; a
// locked user's good passkey is 403 account_locked.
func (h *Passkeys) LoginFinish(c *gin.Context) {
	ctx := c.Request.Context()
	var body loginFinish
	err := decodeJSON(c, &body)
	if err == nil {
		err = ceremonyFields(body.ChallengeID, body.Credential)
	}
	var name, jkt string
	var acct utils.Account
	if err == nil {
		if jkt, err = h.DPoP.bind(c); err != nil { // before the challenge is spent
			h.DPoP.refuse(c, err)
			return
		}
		name, err = h.Passkeys.FinishLogin(ctx, body.ChallengeID, body.Credential)
	}
	if err == nil {
		acct, err = h.account(ctx, name)
	}
	if err != nil {
		h.refused(c, "passkey sign-in refused", name, err)
		response.Error(c, err)
		return
	}
	h.Log.Info("passkey sign-in", "user", name, "ip", c.ClientIP(), "request_id", response.RequestID(c))
	startSession(c, sessionStart{h.Tokens, h.Sessions, h.Events, h.Cookies, h.Log, h.Now}, acct,
		func() (utils.Account, error) { return h.account(ctx, name) }, jkt, AMRPasskey)
}

// account is the account a good passkey belongs to: it must still exist (a
// passkey outliving its user, should its deletion have missed them, signs
// nobody in) and not be locked.
func (h *Passkeys) account(ctx context.Context, name string) (utils.Account, error) {
	acct, err := h.Users.Account(ctx, name)
	switch {
	case errors.Is(err, global.ErrUserNotFound):
		return acct, fmt.Errorf("%w: the passkey's user no longer exists", global.ErrPasskeyRefused)
	case err == nil && acct.Locked:
		err = global.ErrAccountLocked
	}
	return acct, err
}

// refused logs a refused ceremony as a security event, with the reason the
// client is not told. Redis trouble is not a refusal.
func (h *Passkeys) refused(c *gin.Context, msg, name string, err error) {
	if errors.Is(err, global.ErrStoreUnavailable) {
		return
	}
	h.Log.Warn(msg, "user", name, "ip", c.ClientIP(), "reason", err.Error(), "request_id", response.RequestID(c))
}

// ceremonyFields checks the two fields every finish needs.
func ceremonyFields(challengeID string, credential json.RawMessage) error {
	switch {
	case challengeID == "":
		return fmt.Errorf("%w: challengeId is required", global.ErrInvalidRequest)
	case len(credential) == 0 || string(credential) == "null":
		return fmt.Errorf("%w: credential is required", global.ErrInvalidRequest)
	}
	return nil
}

// ceremony answers a begun ceremony. Its challenge is good once and must not
// be cached.
func ceremony(c *gin.Context, cer passkey.Ceremony) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, cer)
}
