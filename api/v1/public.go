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
	Issue(username, sid string, authTime time.Time, roles []string, amr ...string) (utils.Pair, error)
	IssueBound(username, sid string, authTime time.Time, jkt string, roles []string, amr ...string) (utils.Pair, error)
	NewPair(username, sid string, authTime time.Time, jkt string, amr ...string) (utils.Pair, error)
	Sign(p *utils.Pair, roles []string) error
	Parse(token, want string) (*utils.Claims, error)
}

// SessionStore keeps the live sessions (utils.Sessions).
type SessionStore interface {
	Create(ctx context.Context, p *utils.Pair, cl utils.Client, version string) error
	Rotate(ctx context.Context, old *utils.Claims, next *utils.Pair, cl utils.Client) (utils.StoredRoles, error)
	Revoke(ctx context.Context, user, sid string) (bool, error)
	RevokeAll(ctx context.Context, user, except string) (int, error)
	List(ctx context.Context, user, current string) ([]utils.Session, error)
	Get(ctx context.Context, user, sid string) (utils.Session, error)
}

// UserStore keeps the accounts (utils.Users).
type UserStore interface {
	Account(ctx context.Context, name string) (utils.Account, error)
	Roles(r utils.StoredRoles) []string
	SetPasswordHash(ctx context.Context, name, version, hash string) error
	Rehash(ctx context.Context, name, old, hash string) error
}

// AccountCreator creates accounts with their roles and indexes them
// (accounts.Store); nil roles are the default ones.
type AccountCreator interface {
	Create(ctx context.Context, name, hash string, roles []string) (utils.Account, error)
}

// accountRetries bounds how often login and refresh read an account again
// that changed between their read and their write (utils.Account).
const accountRetries = 3

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
	Accounts AccountCreator
	Hasher   PasswordHasher
	Limiter  Limiter
	Events   Events
	Cookies  Cookies
	// MFA is the second factor of the users who turned it on (mfa.go).
	MFA LoginFactor
	Log *slog.Logger
	Now func() time.Time

	// DPoP binds pairs to a client key (api/v1/dpop.go); nil: DPOP=off.
	DPoP *DPoP
}

// Ping answers "pong": the process is up and routing.
func (h *Public) Ping(c *gin.Context) {
	c.String(http.StatusOK, "pong")
}

// Login checks a username and password and opens a session: 200 with a
// token pair whose access token carries the user's roles, amr ["pwd"]. An
// unknown user and a wrong password get the same answer after the same work,
// so neither the body nor the timing tells which it was. Only the right
// password learns more: a locked account is 403 account_locked, and a user
// with a second factor on gets 403 mfa_required with an mfaToken instead of
// a pair (mfa.go).
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
	check := func() (utils.Account, error) {
		return checkPassword(c, h.Users, h.Hasher, h.Limiter, h.Log, f["username"], f["password"], global.ErrInvalidCredentials)
	}
	acct, err := check()
	if err == nil && acct.Locked {
		err = global.ErrAccountLocked
	}
	if err == nil {
		var challenged bool
		if challenged, err = h.challenge(c, acct); challenged {
			return
		}
	}
	if err != nil {
		h.refused(c, acct.Name, err)
		return
	}
	// Read again only if the account changed between the first read and the
	// session's write: then the second factor may have been turned on
	// meanwhile, and a password alone must not open a session.
	reread := func() (utils.Account, error) {
		acct, err := check()
		if err == nil {
			var on bool
			if on, err = h.MFA.Enabled(c.Request.Context(), acct.Name); err == nil && on {
				err = global.ErrChangedMeanwhile // log in again: that login asks the code
			}
		}
		return acct, err
	}
	h.open(c, acct, reread, jkt, global.AMRPassword)
}

// refused answers a sign-in that failed with err; a locked account's is
// also a security event.
func refused(c *gin.Context, log *slog.Logger, name string, err error) {
	if errors.Is(err, global.ErrAccountLocked) {
		log.Warn("login refused: account locked", "user", name, "ip", c.ClientIP(),
			"request_id", response.RequestID(c))
	}
	response.Error(c, err)
}

// refused is the package's refused with h's log.
func (h *Public) refused(c *gin.Context, name string, err error) { refused(c, h.Log, name, err) }

// open starts a session of acct (startSession), bound to the DPoP key jkt
// ("" for none).
func (h *Public) open(c *gin.Context, acct utils.Account, reread func() (utils.Account, error), jkt string, amr ...string) {
	startSession(c, sessionStart{h.Tokens, h.Sessions, h.Events, h.Cookies, h.Log, h.Now}, acct, reread, jkt, amr...)
}

// sessionStart is what opening a session needs.
type sessionStart struct {
	tokens   Tokens
	sessions SessionStore
	events   Events
	cookies  Cookies
	log      *slog.Logger
	now      func() time.Time
}

// startSession opens a session of acct, who just authenticated by the
// methods amr (RFC 8176), bound to the DPoP key of thumbprint jkt when it is
// not empty (api/v1/dpop.go), and answers 200 with its token pair (and, in
// cookie mode, the refresh cookie). The session is written only if the
// account is still the one read (Account.Version): if a lock, a role change
// or a password reset came in between, reread reads it again (re-checking
// the password for a password login) and the pair is signed anew, at most
// accountRetries times.
func startSession(c *gin.Context, s sessionStart, acct utils.Account, reread func() (utils.Account, error), jkt string, amr ...string) {
	var p utils.Pair
	var err error
	for try := 0; ; try++ {
		p, err = s.tokens.IssueBound(acct.Name, uuid.NewString(), s.now(), jkt, acct.Roles, amr...)
		if err == nil {
			err = s.sessions.Create(c.Request.Context(), &p, client(c), acct.Version)
		}
		if !errors.Is(err, global.ErrAccountChanged) || try+1 >= accountRetries {
			break
		}
		if acct, err = reread(); err == nil && acct.Locked {
			err = global.ErrAccountLocked
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		refused(c, s.log, acct.Name, err)
		return
	}
	s.events.Issued()
	s.cookies.set(c, p.Refresh, p.RefreshClaims.ExpiresAt.Unix()-p.RefreshClaims.IssuedAt.Unix())
	response.Pair(c, &p)
}

// Refresh rotates a refresh token, taken from "Authorization: Bearer", a
// JSON body {"refreshToken"} or, in cookie mode, the cookie: the presented
// token and its session's access token stop working and a new pair is
// returned, with the same auth_time and amr. A refresh token that was already rotated away revokes the whole
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
		p, err = h.rotate(c, old, jkt)
	}
	if isDPoPErr(err) { // refused, not revoked: the session stays as it was
		h.DPoP.refuse(c, err)
		return
	}
	if err != nil {
		if err == global.ErrTokenReused {
			h.Events.Revoked("reuse", 1)
			h.Log.Warn("refresh token reuse: session revoked", "user", old.Username, "sid", old.SessionID,
				"ip", c.ClientIP(), "request_id", response.RequestID(c))
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
		_, err = h.Accounts.Create(ctx, name, hash, nil)
	}
	if err != nil {
		response.Error(c, err)
		return
	}
	h.Log.Info("user registered", "user", name, "ip", c.ClientIP(), "request_id", response.RequestID(c))
	c.JSON(http.StatusCreated, gin.H{"username": name})
}

// rotate makes a new pair for the session of old, rotates the session to it
// and signs it with the user's roles as the rotation read them (one script:
// utils.Sessions.Rotate). A deleted or locked user's session is revoked
// already; this only says so.
func (h *Public) rotate(c *gin.Context, old *utils.Claims, jkt string) (utils.Pair, error) {
	p, err := h.Tokens.NewPair(old.Username, old.SessionID, time.Unix(old.AuthTime, 0), jkt, old.AMR...)
	if err != nil {
		return p, err
	}
	roles, err := h.Sessions.Rotate(c.Request.Context(), old, &p, client(c))
	if err != nil {
		return p, err
	}
	return p, h.Tokens.Sign(&p, h.Users.Roles(roles))
}

func client(c *gin.Context) utils.Client {
	return utils.Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
}
