package v1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/utils"
	"go-jwt/utils/accounts"
)

// AdminStore is what the admin routes read and change (accounts.Store):
// every rule (roles, last admin, immediate effects) lives there, shared with
// the operator command line.
type AdminStore interface {
	Create(ctx context.Context, name, hash string, roles []string) (utils.Account, error)
	Get(ctx context.Context, name string) (utils.Account, error)
	List(ctx context.Context, cursor string, limit int) ([]utils.Account, string, error)
	SetRoles(ctx context.Context, name string, roles []string) (utils.Account, error)
	Lock(ctx context.Context, name string) (int, error)
	Unlock(ctx context.Context, name string) error
	SetPassword(ctx context.Context, name, hash string) (int, error)
	Delete(ctx context.Context, name string) (int, error)
}

// AdminEvents counts what the admin routes do (*metrics.Metrics).
type AdminEvents interface {
	AdminAction(action string)
	Revoked(by string, n int)
}

// AdminFactors tells whether users have a second factor on, for the
// user object's "mfa" (mfa.Lookup): one answer per name, in order.
type AdminFactors interface {
	TOTPOn(ctx context.Context, users []string) ([]bool, error)
}

// Admin serves the /admin group (SPEC §10); middleware.JWT and
// middleware.RequireRole(admin) have run before any of these.
type Admin struct {
	Accounts AdminStore
	Factors  AdminFactors
	Sessions SessionStore
	Hasher   PasswordHasher
	Events   AdminEvents
	Log      *slog.Logger
}

// AdminUser is a user as the admin routes show it. A capability that adds
// to it (second factors) adds a field here and fills it in Admin.users.
type AdminUser struct {
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	Locked    bool      `json:"locked"`
	CreatedAt time.Time `json:"createdAt"`
	Sessions  int       `json:"sessions"`
	// MFA: TOTP is on (SPEC §11; an enrollment only pending is off).
	MFA bool `json:"mfa"`
}

// users builds the user objects of list, with one lookup of the second
// factors for all of them.
func (h *Admin) users(ctx context.Context, list []utils.Account) ([]AdminUser, error) {
	names := make([]string, len(list))
	for i, a := range list {
		names[i] = a.Name
	}
	on, err := h.Factors.TOTPOn(ctx, names)
	if err != nil {
		return nil, err
	}
	if len(on) != len(list) {
		return nil, fmt.Errorf("second factor lookup: %d answers for %d users", len(on), len(list))
	}
	users := make([]AdminUser, 0, len(list))
	for i, a := range list {
		roles := a.Roles
		if roles == nil {
			roles = []string{}
		}
		users = append(users, AdminUser{Username: a.Name, Roles: roles, Locked: a.Locked, CreatedAt: a.CreatedAt, Sessions: a.Sessions,
			MFA: on[i]})
	}
	return users, nil
}

// user is the user object of a.
func (h *Admin) user(ctx context.Context, a utils.Account) (AdminUser, error) {
	u, err := h.users(ctx, []utils.Account{a})
	if err != nil {
		return AdminUser{}, err
	}
	return u[0], nil
}

// Page size of GET /admin/users.
const (
	defaultPage = 50
	maxPage     = 200
)

// ListUsers pages through every user in name order: ?limit=1-200 (50),
// ?cursor= the nextCursor of the previous page.
func (h *Admin) ListUsers(c *gin.Context) {
	limit, cursor := defaultPage, c.Query("cursor")
	var err error
	if q := c.Query("limit"); q != "" {
		if limit, err = strconv.Atoi(q); err != nil || limit < 1 || limit > maxPage {
			err = fmt.Errorf("%w: limit must be a whole number from 1 to %d", global.ErrInvalidRequest, maxPage)
		}
	}
	if err == nil && cursor != "" {
		if canon, cerr := utils.CanonicalUsername(cursor); cerr != nil || canon != cursor {
			err = fmt.Errorf("%w: cursor must be the nextCursor of a previous page", global.ErrInvalidRequest)
		}
	}
	var list []utils.Account
	var next string
	if err == nil {
		list, next, err = h.Accounts.List(c.Request.Context(), cursor, limit)
	}
	var users []AdminUser
	if err == nil {
		users, err = h.users(c.Request.Context(), list)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"users": users, "nextCursor": next})
}

// CreateUser creates a user ({"username","password","roles"}; no roles: the
// default ones): 201 with the user; a taken name is 409.
func (h *Admin) CreateUser(c *gin.Context) {
	var body struct {
		Username string   `json:"username"`
		Password string   `json:"password"`
		Roles    []string `json:"roles"`
	}
	err := decodeJSON(c, &body)
	var name, hash string
	if err == nil {
		err = required(map[string]string{"username": body.Username, "password": body.Password}, "username", "password")
	}
	if err == nil {
		if name, err = utils.CanonicalUsername(body.Username); err != nil {
			err = fmt.Errorf("%w: %v", global.ErrInvalidRequest, err)
		}
	}
	if err == nil {
		err = validPassword(body.Password)
	}
	if err == nil && body.Roles != nil {
		_, err = utils.ParseRoles(body.Roles) // before the hash is spent
	}
	if err == nil {
		hash, err = h.Hasher.Hash(c.Request.Context(), body.Password)
	}
	var a utils.Account
	if err == nil {
		a, err = h.Accounts.Create(c.Request.Context(), name, hash, body.Roles)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.audit(c, "create", name, "roles", a.Roles)
	h.answer(c, http.StatusCreated, a)
}

// GetUser answers a user and their live sessions.
func (h *Admin) GetUser(c *gin.Context) {
	name, err := target(c)
	var a utils.Account
	if err == nil {
		a, err = h.Accounts.Get(c.Request.Context(), name)
	}
	var sessions []utils.Session
	if err == nil {
		sessions, err = h.Sessions.List(c.Request.Context(), name, "")
	}
	var u AdminUser
	if err == nil {
		u, err = h.user(c.Request.Context(), a)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": u, "sessions": sessions})
}

// SetRoles replaces a user's roles ({"roles":[…]}): 200 with the user. The
// user's live access tokens stop working at once; a refresh gets the roles.
func (h *Admin) SetRoles(c *gin.Context) {
	var body struct {
		Roles []string `json:"roles"`
	}
	name, err := target(c)
	if err == nil {
		err = decodeJSON(c, &body)
	}
	if err == nil && body.Roles == nil {
		err = fmt.Errorf("%w: roles is required (a list, [] for none)", global.ErrInvalidRequest)
	}
	var a utils.Account
	if err == nil {
		a, err = h.Accounts.SetRoles(c.Request.Context(), name, body.Roles)
	}
	if err != nil {
		h.refused(c, "roles", name, err)
		response.Error(c, err)
		return
	}
	h.audit(c, "roles", name, "roles", a.Roles, "sessions", a.Sessions)
	h.answer(c, http.StatusOK, a)
}

// answer answers the user object of a, after a change already made: a
// failed second-factor lookup is then a 503 (the change stands).
func (h *Admin) answer(c *gin.Context, status int, a utils.Account) {
	u, err := h.user(c.Request.Context(), a)
	if err != nil {
		response.Error(c, err)
		return
	}
	c.JSON(status, u)
}

// Lock locks a user and revokes every session: 204. Their login with the
// right password is then 403 account_locked.
func (h *Admin) Lock(c *gin.Context) {
	h.act(c, "lock", func(ctx context.Context, name string) (int, error) { return h.Accounts.Lock(ctx, name) })
}

// Unlock unlocks a user: 204.
func (h *Admin) Unlock(c *gin.Context) {
	h.act(c, "unlock", func(ctx context.Context, name string) (int, error) { return 0, h.Accounts.Unlock(ctx, name) })
}

// Delete revokes every session of a user and deletes them: 204. The name
// can be registered again.
func (h *Admin) Delete(c *gin.Context) {
	h.act(c, "delete", func(ctx context.Context, name string) (int, error) { return h.Accounts.Delete(ctx, name) })
}

// Password sets a user's password ({"newPassword"}) and revokes every
// session: 204.
func (h *Admin) Password(c *gin.Context) {
	name, err := target(c)
	var f map[string]string
	if err == nil {
		f, err = fields(c, "newPassword")
	}
	if err == nil {
		err = required(f, "newPassword")
	}
	if err == nil {
		err = validPassword(f["newPassword"])
	}
	if err == nil {
		_, err = h.Accounts.Get(c.Request.Context(), name) // 404 before a hash is spent
	}
	var hash string
	if err == nil {
		hash, err = h.Hasher.Hash(c.Request.Context(), f["newPassword"])
	}
	var n int
	if err == nil {
		n, err = h.Accounts.SetPassword(c.Request.Context(), name, hash)
	}
	h.finish(c, "password", name, n, err)
}

// LogoutAll revokes every session of a user: 200 {"revoked":N}.
func (h *Admin) LogoutAll(c *gin.Context) {
	name, err := target(c)
	if err == nil {
		_, err = h.Accounts.Get(c.Request.Context(), name)
	}
	var n int
	if err == nil {
		n, err = h.Sessions.RevokeAll(c.Request.Context(), name, "")
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.Events.Revoked("admin-logout-all", n)
	h.audit(c, "logout-all", name, "revoked", n)
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

// act runs one change of the user named in the path that answers 204.
func (h *Admin) act(c *gin.Context, action string, do func(ctx context.Context, name string) (int, error)) {
	name, err := target(c)
	var n int
	if err == nil {
		n, err = do(c.Request.Context(), name)
	}
	h.finish(c, action, name, n, err)
}

// finish answers a change that revoked n sessions: 204 and its security
// event, or the error.
func (h *Admin) finish(c *gin.Context, action, name string, n int, err error) {
	if err != nil {
		h.refused(c, action, name, err)
		response.Error(c, err)
		return
	}
	if n > 0 {
		h.Events.Revoked("admin-"+action, n)
	}
	h.audit(c, action, name, "revoked", n)
	c.Status(http.StatusNoContent)
}

// target is the canonical name of the user in the path; a name that cannot
// be a username is simply not found.
func target(c *gin.Context) (string, error) {
	name, err := utils.CanonicalUsername(c.Param("name"))
	if err != nil {
		return "", global.ErrNotFound
	}
	return name, nil
}

// audit logs an admin action as a security event and counts it.
func (h *Admin) audit(c *gin.Context, action, target string, attrs ...any) {
	h.Events.AdminAction(action)
	accounts.LogAction(h.Log, middleware.Claims(c).Username, action, target,
		append(attrs, "request_id", response.RequestID(c))...)
}

// refused logs an admin action the last-admin rule refused.
func (h *Admin) refused(c *gin.Context, action, target string, err error) {
	if errors.Is(err, global.ErrLastAdmin) {
		h.Log.Warn("admin action refused", "actor", middleware.Claims(c).Username, "action", action, "target", target,
			"reason", err.Error(), "request_id", response.RequestID(c))
	}
}
