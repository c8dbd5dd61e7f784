package v1

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/utils"
)

// recordingFactor is a second factor that is on for every user and records
// whether a login asked it anything; fail makes Enabled fail like Redis.
type recordingFactor struct {
	LoginFactor
	asked int
	fail  error
}

func (f *recordingFactor) Enabled(context.Context, string) (bool, error) {
	f.asked++
	return true, f.fail
}

func (f *recordingFactor) NewChallenge(context.Context, string, string) (string, error) {
	return "challenge", nil
}

// TestWrongPasswordNeverAsksTheSecondFactor: for a user with TOTP on, a
// wrong password costs one hash and nothing else, exactly like a user
// without it (so neither the answer nor its time tells that TOTP is on).
// Only the right password asks the second factor.
func TestWrongPasswordNeverAsksTheSecondFactor(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tt := range []struct {
		name   string
		body   string
		status int
		asked  int
	}{
		{"wrong password", "username=kesa&password=bad", http.StatusUnauthorized, 0},
		{"unknown user", "username=nobody&password=bad", http.StatusUnauthorized, 0},
		{"right password", "username=kesa&password=123", http.StatusForbidden, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hasher, factor := &countingHasher{}, &recordingFactor{}
			w := login(&Public{Users: oneUser{}, Hasher: hasher, Limiter: noLimits{}, MFA: factor,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, tt.body)
			if w.Code != tt.status || len(hasher.verified) != 1 || factor.asked != tt.asked {
				t.Fatalf("status %d, %d hashes, second factor asked %d times; want %d, 1, %d", w.Code, len(hasher.verified), factor.asked, tt.status, tt.asked)
			}
		})
	}
}

// TestSecondFactorOutageIsNoBypass: when whether TOTP is on cannot be read,
// the right password gets 503, never a token pair.
func TestSecondFactorOutageIsNoBypass(t *testing.T) {
	gin.SetMode(gin.TestMode)
	factor := &recordingFactor{fail: global.ErrStoreUnavailable}
	w := login(&Public{Users: oneUser{}, Hasher: &countingHasher{}, Limiter: noLimits{}, MFA: factor,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, "username=kesa&password=123")
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "accessToken") {
		t.Fatalf("status %d %s, want 503 and no pair", w.Code, w.Body)
	}
}

func login(h *Public, body string) *httptest.ResponseRecorder {
	r := gin.New()
	r.POST("/login", h.Login)
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// changingSessions is a session store whose first Create finds the account
// changed since it was read (a lock, a role change, a TOTP confirmation
// racing the login); it records what it created after that.
type changingSessions struct {
	SessionStore
	tries   int
	created int
}

func (s *changingSessions) Create(context.Context, *utils.Pair, utils.Client, string) error {
	s.tries++
	if s.tries == 1 {
		return global.ErrAccountChanged
	}
	s.created++
	return nil
}

// lateFactor is off when the login asks first and on when it asks again:
// TOTP confirmed while the login was between its read and its write.
type lateFactor struct {
	LoginFactor
	asked int
}

func (f *lateFactor) Enabled(context.Context, string) (bool, error) {
	f.asked++
	return f.asked > 1, nil
}

// TestLoginRacingTOTPOnOpensNoSession: a password login whose account
// changed before its session was written reads the account again; if the
// second factor came on meanwhile, the password alone opens nothing (409:
// log in again, and that login asks the code).
func TestLoginRacingTOTPOnOpensNoSession(t *testing.T) {
	gin.SetMode(gin.TestMode)
	sessions, factor, hasher := &changingSessions{}, &lateFactor{}, &countingHasher{}
	w := login(&Public{Users: oneUser{}, Hasher: hasher, Limiter: noLimits{}, MFA: factor, Sessions: sessions,
		Tokens: utils.NewJWT([]byte("0123456789abcdef0123456789abcdef"), "jwt-demo", time.Minute, time.Hour, 24*time.Hour, time.Now),
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, "username=kesa&password=123")
	if w.Code != http.StatusConflict || strings.Contains(w.Body.String(), "accessToken") || sessions.created != 0 {
		t.Fatalf("status %d %s, %d sessions created; want 409 and none", w.Code, w.Body, sessions.created)
	}
	if len(hasher.verified) != 2 || factor.asked != 2 {
		t.Fatalf("%d password checks, second factor asked %d times; want 2 and 2", len(hasher.verified), factor.asked)
	}
}
