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
