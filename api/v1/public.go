// Package v1 holds the HTTP handlers of API version 1: the public routes
// (public.go) and the private, signed-in ones (user.go). A handler is a method
// on a small struct holding its dependencies, declared as interfaces here.
package v1

import (
	"context"
	"errors"
	"fmt"
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
	IssueBound(username, sid string, authTime time.Time, jkt string) (utils.Pair, error)
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

// Limiter budgets failed password checks (utils.LoginLimiter).
type Limiter interface {
	Check(ctx context.Context, user, ip string) error
	Fail(ctx context.Context, user, ip string) error
	Attempt(ctx context.Context, ip string) error
}

// Events receives the token events that metrics count (*metrics.Metrics).
type Events interface {
	Issued()
	Refreshed()
	Revoked(by string, n int)
}

// Public serves the routes that need no token.
type Public struct {
	Tokens   Tokens
	Sessions SessionStore
	Users    UserStore
	Hasher   PasswordHasher
	Limiter  Limiter
	Events   Events
	Cookies  Cookies
	Log      *slog.Logger
	Now      func() time.Time

	// DPoP binds pairs to a client key (api/v1/dpop.go); nil: DPOP=off.
	DPoP *DPoP
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
	jkt, err := h.DPoP.bind(c) // before any hash is spent
	if err != nil {
		h.DPoP.refuse(c, err)
		return
	}
	name, err := checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, f["username"], f["password"], global.ErrInvalidCredentials)
	if err != nil {
		response.Error(c, err)
		return
	}
	p, err := h.Tokens.IssueBound(name, uuid.NewString(), h.Now(), jkt)
	if err == nil {
		err = h.Sessions.Create(c.Request.Context(), &p, client(c))
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.Events.Issued()
	h.Cookies.set(c, p.Refresh, p.RefreshClaims.ExpiresAt.Unix()-p.RefreshClaims.IssuedAt.Unix())
	response.Pair(c, &p)
}

// Refresh rotates a refresh token, taken from "Authorization: Bearer", a
// JSON body {"refreshToken"} or, in cookie mode, the cookie: the presented
// token and its session's access token stop working and a new pair is
// returned. A refresh token that was already rotated away revokes the whole
// session (theft detection).
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
	fromCookie := false
	if !presented && raw == "" {
		var err error
		if raw, err = h.Cookies.token(c); err != nil {
			response.Error(c, err)
			return
		}
		fromCookie = raw != ""
	}
	old, err := h.Tokens.Parse(raw, global.TokenRefresh)
	var p utils.Pair
	var jkt string
	if err == nil {
		jkt, err = h.DPoP.rebind(c, old)
	}
	if err == nil {
		p, err = h.Tokens.IssueBound(old.Username, old.SessionID, time.Unix(old.AuthTime, 0), jkt)
	}
	if err == nil {
		err = h.Sessions.Rotate(c.Request.Context(), old, &p, client(c))
	}
	if isDPoPErr(err) { // refused, not revoked: the session stays as it was
		h.DPoP.refuse(c, err)
		return
	}
	if err != nil {
		if err == global.ErrTokenReused {
			h.Events.Revoked("reuse", 1)
			h.Log.Warn("refresh token reuse: session revoked", "user", old.Username, "sid", old.SessionID,
				"ip", c.ClientIP(), "request_id", c.GetString(global.CtxRequestID))
		}
		if presented || raw == "" {
			response.Challenge(c, presented)
		}
		if fromCookie && errors.Is(err, global.ErrInvalidToken) {
			h.Cookies.clear(c) // a dead token: stop the browser sending it
		}
		response.Error(c, err)
		return
	}
	h.Events.Refreshed()
	h.Cookies.set(c, p.Refresh, p.RefreshClaims.ExpiresAt.Unix()-p.RefreshClaims.IssuedAt.Unix())
	response.Pair(c, &p)
}

// Register creates an account from a username and password (JSON or form):
// 201 {"username"} with the stored, lower-case name; a taken name is 409.
// Each attempt spends one unit of the client IP's budget, so accounts cannot
// be created (and hashes spent) without bound.
func (h *Public) Register(c *gin.Context) {
	ctx := c.Request.Context()
	f, err := fields(c, "username", "password")
	if err == nil {
		err = required(f, "username", "password")
	}
	var name, hash string
	if err == nil {
		if name, err = utils.CanonicalUsername(f["username"]); err != nil {
			err = fmt.Errorf("%w: %v", global.ErrInvalidRequest, err)
		}
	}
	if err == nil {
		err = validPassword(f["password"])
	}
	if err == nil {
		err = h.Limiter.Attempt(ctx, c.ClientIP())
	}
	if err == nil {
		hash, err = h.Hasher.Hash(ctx, f["password"])
	}
	if err == nil {
		err = h.Users.Create(ctx, name, hash, h.Now())
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.Log.Info("user registered", "user", name, "ip", c.ClientIP(), "request_id", c.GetString(global.CtxRequestID))
	c.JSON(http.StatusCreated, gin.H{"username": name})
}

func client(c *gin.Context) utils.Client {
	return utils.Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
}
