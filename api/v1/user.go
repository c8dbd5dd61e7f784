package v1

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/utils"
)

// User serves the private routes; middleware.JWT has verified the access
// token before any of these runs.
type User struct {
	Sessions SessionStore
	Users    UserStore
	Hasher   PasswordHasher
	Limiter  Limiter
	Events   Events
	Cookies  Cookies
	Log      *slog.Logger
}

// plainText is the Content-Type of Welcome, shared (net/http only reads it).
var plainText = []string{"text/plain; charset=utf-8"}

// Welcome greets the signed-in user.
func (h *User) Welcome(c *gin.Context) {
	// Written directly: c.String would format through fmt, and c.Data
	// makes a new Content-Type value each time (this route is the one a
	// front end calls most).
	c.Writer.Header()["Content-Type"] = plainText
	c.Writer.WriteHeader(http.StatusOK)
	_, _ = c.Writer.WriteString("Welcome ! ")
	_, _ = c.Writer.WriteString(middleware.Claims(c).Username)
}

// Logout ends the caller's session: its access and refresh token stop
// working together, at once.
func (h *User) Logout(c *gin.Context) {
	claims := middleware.Claims(c)
	if _, err := h.Sessions.Revoke(c.Request.Context(), claims.Username, claims.SessionID); err != nil {
		response.Error(c, err)
		return
	}
	h.revoked(c, "logout", 1)
	h.Cookies.clear(c)
	c.String(http.StatusOK, "Logout success")
}

// LogoutAll ends every session of the user, this one included:
// 200 {"revoked":N}.
func (h *User) LogoutAll(c *gin.Context) {
	n, err := h.Sessions.RevokeAll(c.Request.Context(), middleware.Claims(c).Username, "")
	if err != nil {
		response.Error(c, err)
		return
	}
	h.revoked(c, "logout-all", n)
	h.Cookies.clear(c)
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

// ListSessions lists the user's live sessions, newest first, the caller's own
// marked current.
func (h *User) ListSessions(c *gin.Context) {
	claims := middleware.Claims(c)
	list, err := h.Sessions.List(c.Request.Context(), claims.Username, claims.SessionID)
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"sessions": list})
}

// RevokeSession ends one of the user's own sessions: 204. Sessions are
// looked up under the caller's name only, so another user's session id is
// simply not found (404), exactly like an unknown one.
func (h *User) RevokeSession(c *gin.Context) {
	claims, id := middleware.Claims(c), c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		response.Error(c, global.ErrNotFound)
		return
	}
	live, err := h.Sessions.Revoke(c.Request.Context(), claims.Username, id)
	if err == nil && !live {
		err = global.ErrNotFound
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.revoked(c, "session-revoke", 1)
	c.Status(http.StatusNoContent)
}

// Password changes the user's password ({"oldPassword","newPassword"}):
// 204, and every other session is revoked while this one keeps working. A
// wrong old password is 403: the session is fine, only the re-authentication
// failed. Failures count against the same budget as failed logins, so a
// stolen access token cannot be used to guess the password.
func (h *User) Password(c *gin.Context) {
	claims := middleware.Claims(c)
	f, err := fields(c, "oldPassword", "newPassword")
	if err == nil {
		err = required(f, "oldPassword", "newPassword")
	}
	if err == nil {
		err = validPassword(f["newPassword"])
	}
	var acct utils.Account
	if err == nil {
		acct, err = checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, claims.Username, f["oldPassword"], global.ErrWrongPassword)
	}
	var hash string
	if err == nil {
		hash, err = h.Hasher.Hash(c.Request.Context(), f["newPassword"])
	}
	if err == nil {
		err = h.setPassword(c, acct, f["oldPassword"], hash)
	}
	var n int
	if err == nil {
		n, err = h.Sessions.RevokeAll(c.Request.Context(), claims.Username, claims.SessionID)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.revoked(c, "password-change", n)
	c.Status(http.StatusNoContent)
}

// setPassword stores hash as the new password of acct, the account whose
// old password was checked, if it is still at acct's version. If it changed
// in between (a role change, an unlock, an admin's reset), the old password
// is checked once more against the account as it is now (an admin's new
// password makes it wrong: 403) and the write is tried again; a second
// change in that window is 409 conflict, send it again. A user deleted or
// locked meanwhile has lost every session, this one too: 401 invalid_token.
// Nothing is ever written to a deleted account.
func (h *User) setPassword(c *gin.Context, acct utils.Account, old, hash string) error {
	ctx := c.Request.Context()
	err := h.Users.SetPasswordHash(ctx, acct.Name, acct.Version, hash)
	if errors.Is(err, global.ErrAccountChanged) {
		var now utils.Account
		if now, err = h.Users.Account(ctx, acct.Name); err == nil && now.Locked {
			err = global.ErrTokenRevoked // the lock revoked this session
		}
		if err == nil {
			acct, err = checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, acct.Name, old, global.ErrWrongPassword)
		}
		if err == nil {
			err = h.Users.SetPasswordHash(ctx, acct.Name, acct.Version, hash)
		}
	}
	switch {
	case errors.Is(err, global.ErrUserNotFound):
		return global.ErrTokenRevoked
	case errors.Is(err, global.ErrAccountChanged):
		return global.ErrChangedMeanwhile
	}
	return err
}

// Me returns the user's name, the roles the access token carries (current:
// a role change cuts the user's access tokens) and the current session.
func (h *User) Me(c *gin.Context) {
	claims := middleware.Claims(c)
	s, err := h.Sessions.Get(c.Request.Context(), claims.Username, claims.SessionID)
	if err != nil {
		response.Error(c, err)
		return
	}
	s.Current = true
	roles := claims.Roles
	if roles == nil {
		roles = []string{}
	}
	c.JSON(http.StatusOK, gin.H{"username": claims.Username, "roles": roles, "session": s})
}

// revoked logs a revocation as a security event of its own.
func (h *User) revoked(c *gin.Context, by string, n int) {
	claims := middleware.Claims(c)
	h.Events.Revoked(by, n)
	h.Log.Info("session revoked", "user", claims.Username, "sid", claims.SessionID, "by", by, "count", n,
		"request_id", response.RequestID(c))
}
