package v1

import (
	"context"
	"fmt"
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
	"go-jwt/utils/passkey"
)

// goodPasskey is a PasskeyService whose every sign-in is kesa's.
type goodPasskey struct{ PasskeyService }

func (goodPasskey) FinishLogin(context.Context, string, []byte) (string, error) { return "kesa", nil }

// lockFake is the account of kesa, locked or not, or fails like a store
// that is down.
type lockFake struct {
	UserStore
	locked bool
	err    error
	asked  []string
}

func (l *lockFake) Account(_ context.Context, name string) (utils.Account, error) {
	l.asked = append(l.asked, name)
	return utils.Account{Name: name, Roles: []string{"user"}, Locked: l.locked}, l.err
}

// sessionsFake records the sessions opened.
type sessionsFake struct {
	SessionStore
	created []*utils.Pair
}

func (s *sessionsFake) Create(_ context.Context, p *utils.Pair, _ utils.Client, _ string) error {
	s.created = append(s.created, p)
	return nil
}

type eventsFake struct{ issued int }

func (e *eventsFake) Issued()             { e.issued++ }
func (e *eventsFake) Refreshed()          {}
func (e *eventsFake) Revoked(string, int) {}

// finishSignIn posts a (fake) assertion to h.LoginFinish.
func finishSignIn(h *Passkeys) *httptest.ResponseRecorder {
	r := gin.New()
	r.POST("/finish", h.LoginFinish)
	req := httptest.NewRequest(http.MethodPost, "/finish", strings.NewReader(`{"challengeId":"c","credential":{"id":"x"}}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestPasskeyLockedUser: a locked user's good passkey is 403
// account_locked and opens no session; the lock is asked only after the
// passkey checked out (SPEC §10: nothing is told to someone without it).
func TestPasskeyLockedUser(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name   string
		locks  *lockFake
		status int
		code   string
	}{
		{"locked", &lockFake{locked: true}, http.StatusForbidden, "account_locked"},
		{"not locked", &lockFake{}, http.StatusOK, ""},
		{"lock store down", &lockFake{err: fmt.Errorf("%w: down", global.ErrStoreUnavailable)}, http.StatusServiceUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sessions, events := &sessionsFake{}, &eventsFake{}
			h := &Passkeys{
				Passkeys: goodPasskey{}, Users: tt.locks,
				Tokens:   utils.NewJWT([]byte("0123456789abcdef0123456789abcdef"), "jwt-demo", time.Minute, time.Hour, 24*time.Hour, time.Now),
				Sessions: sessions, Events: events, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
			}
			w := finishSignIn(h)
			if w.Code != tt.status || (tt.code != "" && !strings.Contains(w.Body.String(), `"error":"`+tt.code+`"`)) {
				t.Fatalf("status %d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if len(tt.locks.asked) != 1 || tt.locks.asked[0] != "kesa" {
				t.Fatalf("lock asked for %q, want kesa once", tt.locks.asked)
			}
			opened := tt.status == http.StatusOK
			if (len(sessions.created) == 1) != opened || (events.issued == 1) != opened {
				t.Fatalf("sessions opened %d, issued %d; want a session: %v", len(sessions.created), events.issued, opened)
			}
			if opened && strings.Join(sessions.created[0].AccessClaims.AMR, ",") != "hwk" {
				t.Fatalf("amr %q", sessions.created[0].AccessClaims.AMR)
			}
		})
	}
}

// refusedPasskey refuses every sign-in.
type refusedPasskey struct{ PasskeyService }

func (refusedPasskey) FinishLogin(context.Context, string, []byte) (string, error) {
	return "", fmt.Errorf("%w: bad signature", global.ErrPasskeyRefused)
}

// TestPasskeyLockNotAskedForBadPasskey: without a good passkey, a locked and
// an unlocked account get the same 401.
func TestPasskeyLockNotAskedForBadPasskey(t *testing.T) {
	gin.SetMode(gin.TestMode)
	locks := &lockFake{locked: true}
	h := &Passkeys{Passkeys: refusedPasskey{}, Users: locks, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	w := finishSignIn(h)
	if w.Code != http.StatusUnauthorized || len(locks.asked) != 0 {
		t.Fatalf("status %d, lock asked %q; want 401 without asking", w.Code, locks.asked)
	}
}

// passkey.RP is what initialize wires as the PasskeyService.
var _ PasskeyService = (*passkey.RP)(nil)
