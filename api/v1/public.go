// Package v1 holds the HTTP handlers of API version 1: the public routes
// (public.go) and the private, signed-in ones (user.go). A handler is a method
// on a small struct holding its dependencies, declared as interfaces here.
package v1

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/utils"
)

// Tokens signs and verifies token pairs (utils.JWT).
type Tokens interface {
	Issue(username, sid string, authTime time.Time) (utils.Pair, error)
	Parse(token, want string) (*utils.Claims, error)
}

// SessionStore keeps the live sessions (utils.Sessions).
type SessionStore interface {
	Create(ctx context.Context, p *utils.Pair, cl utils.Client) error
	Rotate(ctx context.Context, old *utils.Claims, next *utils.Pair, cl utils.Client) error
	Revoke(ctx context.Context, user, sid string) (bool, error)
	RevokeAll(ctx context.Context, user, except string) (int, error)
	List(ctx context.Context, user, current string) ([]utils.Session, error)
	Get(ctx context.Context, user, sid string) (utils.Session, error)
}

// UserStore keeps the accounts (utils.Users).
type UserStore interface {
	Create(ctx context.Context, name, hash string, now time.Time) error
	PasswordHash(ctx context.Context, name string) (string, error)
	SetPasswordHash(ctx context.Context, name, hash string) error
}

// PasswordHasher hashes and verifies passwords (utils.Hasher).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error)
}

// Public serves the routes that need no token.
type Public struct {
	Tokens   Tokens
	Sessions SessionStore
	Users    UserStore
	Hasher   PasswordHasher
	Log      *slog.Logger
	Now      func() time.Time
}

// Ping answers "pong": the process is up and routing.
func (h *Public) Ping(c *gin.Context) {
	c.String(http.StatusOK, "pong")
}

// Login checks a username and password and opens a session: 200 with a
// token pair. An unknown user and a wrong password get the same answer after
// the same work, so neither the body nor the timing tells which it was.
func (h *Public) Login(c *gin.Context) {
	f, err := fields(c, "username", "password")
	if err == nil {
		err = required(f, "username", "password")
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	name, err := h.authenticate(c.Request.Context(), f["username"], f["password"])
	if err != nil {
		response.Error(c, err)
		return
	}
	p, err := h.Tokens.Issue(name, uuid.NewString(), h.Now())
	if err == nil {
		err = h.Sessions.Create(c.Request.Context(), &p, client(c))
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	response.Pair(c, &p)
}

// authenticate returns the canonical name of the user if password is theirs.
func (h *Public) authenticate(ctx context.Context, username, password string) (string, error) {
	name, nameErr := utils.CanonicalUsername(username)
	var stored string
	if nameErr == nil {
		var err error
		if stored, err = h.Users.PasswordHash(ctx, name); err != nil && !errors.Is(err, global.ErrUserNotFound) {
			return "", err
		}
	}
	// An empty stored hash (no such user) is verified against a dummy hash.
	ok, rehash, err := h.Hasher.Verify(ctx, stored, password)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", global.ErrInvalidCredentials
	}
	if rehash {
		h.upgradeHash(ctx, name, password)
	}
	return name, nil
}

// upgradeHash stores a hash under the current parameters. The login has
// succeeded already, so a failure here is logged, not returned.
func (h *Public) upgradeHash(ctx context.Context, name, password string) {
	hash, err := h.Hasher.Hash(ctx, password)
	if err == nil {
		err = h.Users.SetPasswordHash(ctx, name, hash)
	}
	if err != nil {
		h.Log.Warn("password rehash failed", "user", name, "err", err.Error())
	}
}

// Refresh rotates a refresh token, taken from "Authorization: Bearer" or a
// JSON body {"refreshToken"}: the presented token and its session's access
// token stop working and a new pair is returned. A refresh token that was
// already rotated away revokes the whole session (theft detection).
func (h *Public) Refresh(c *gin.Context) {
	raw, presented := middleware.BearerToken(c.GetHeader("Authorization"))
	if !presented && c.Request.Method == http.MethodPost {
		f, err := fields(c, "refreshToken")
		if err != nil {
			response.Error(c, err)
			return
		}
		raw = f["refreshToken"]
	}
	old, err := h.Tokens.Parse(raw, global.TokenRefresh)
	var p utils.Pair
	if err == nil {
		p, err = h.Tokens.Issue(old.Username, old.SessionID, time.Unix(old.AuthTime, 0))
	}
	if err == nil {
		err = h.Sessions.Rotate(c.Request.Context(), old, &p, client(c))
	}
	if err != nil {
		if err == global.ErrTokenReused {
			h.Log.Warn("refresh token reuse: session revoked", "user", old.Username, "sid", old.SessionID,
				"ip", c.ClientIP(), "request_id", c.GetString(global.CtxRequestID))
		}
		if presented || raw == "" {
			response.Challenge(c, presented)
		}
		response.Error(c, err)
		return
	}
	response.Pair(c, &p)
}

func client(c *gin.Context) utils.Client {
	return utils.Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
}
