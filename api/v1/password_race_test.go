package v1_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	v1 "go-jwt/api/v1"
	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// racingHasher hashes "$p$"+password and runs meanwhile, the change racing
// the request, when asked to hash (after the old password was checked) and
// againAt on the n-th verification.
type racingHasher struct {
	verified  int
	meanwhile func()
	againAt   int
	again     func()
}

func (h *racingHasher) Hash(_ context.Context, password string) (string, error) {
	h.meanwhile()
	return "$p$" + password, nil
}

func (h *racingHasher) Verify(_ context.Context, encoded, password string) (bool, bool, error) {
	h.verified++
	if h.verified == h.againAt {
		h.again()
	}
	return encoded == "$p$"+password, false, nil
}

// keptSessions is a session store whose RevokeAll revokes nothing.
type keptSessions struct{ v1.SessionStore }

func (keptSessions) RevokeAll(context.Context, string, string) (int, error) { return 0, nil }

// unlimited is a failure budget that never runs out.
type unlimited struct{ v1.Limiter }

func (unlimited) Check(context.Context, string, string) error { return nil }
func (unlimited) Fail(context.Context, string, string) error  { return nil }

// noEvents counts nothing.
type noEvents struct{ v1.Events }

func (noEvents) Revoked(string, int) {}

// TestPasswordChangeRacingTheAccount (review 1, finding 2): POST
// /user/password when the account changes between the check of the old
// password and the write. The write is conditional on the checked version:
// a role change is retried once (the old password checked again, 204); an
// admin's new password makes the old one wrong (403); a lock or a delete
// has ended the session (401, and a deleted account is not brought back);
// a second change in the window is 409.
func TestPasswordChangeRacingTheAccount(t *testing.T) {
	gin.SetMode(gin.TestMode)
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			users := utils.NewUsers(b.Client, []string{"user"})
			update := func(name string, ch utils.Change) func() {
				return func() {
					if _, err := users.Update(ctx, name, utils.AnyVersion, ch); err != nil {
						t.Error(err)
					}
				}
			}
			roles := utils.Change{Op: utils.OpRoles, Roles: []string{"admin", "user"}}
			for _, tt := range []struct {
				name      string
				meanwhile func(name string) func()
				again     bool // the roles change once more, at the second check
				status    int
				code      string
				hash      string // stored afterwards; "" means no account
			}{
				{"no race", func(string) func() { return func() {} }, false, 204, "", "$p$new password"},
				{"role change", func(n string) func() { return update(n, roles) }, false, 204, "", "$p$new password"},
				{"admin reset", func(n string) func() { return update(n, utils.Change{Op: utils.OpPassword, Hash: "$p$by admin"}) }, false, 403, "invalid_credentials", "$p$by admin"},
				{"locked", func(n string) func() { return update(n, utils.Change{Op: utils.OpLock}) }, false, 401, "invalid_token", "$p$old password"},
				{"deleted", func(n string) func() { return update(n, utils.Change{Op: utils.OpDelete}) }, false, 401, "invalid_token", ""},
				{"changed twice", func(n string) func() { return update(n, roles) }, true, 409, "conflict", "$p$old password"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					name := testkit.Name(t)
					if err := users.Create(ctx, name, "$p$old password", []string{"user"}, time.Now()); err != nil {
						t.Fatal(err)
					}
					hasher := &racingHasher{meanwhile: tt.meanwhile(name)}
					if tt.again {
						hasher.againAt, hasher.again = 2, update(name, roles)
					}
					h := &v1.User{Sessions: keptSessions{}, Users: users, Hasher: hasher, Limiter: unlimited{}, Events: noEvents{},
						Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
					w := changePassword(h, name)
					if w.Code != tt.status || tt.code != "" && !strings.Contains(w.Body.String(), `"error":"`+tt.code+`"`) {
						t.Fatalf("status %d body %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
					}
					a, err := users.Account(ctx, name)
					switch {
					case tt.hash == "" && !errors.Is(err, global.ErrUserNotFound):
						t.Fatalf("the deleted account is back: %+v %v", a, err)
					case tt.hash != "" && (err != nil || a.Hash != tt.hash):
						t.Fatalf("stored hash %q (%v), want %q", a.Hash, err, tt.hash)
					}
				})
			}
		})
	}
}

// changePassword posts a password change, old password "old password", for
// the signed-in name.
func changePassword(h *v1.User, name string) *httptest.ResponseRecorder {
	r := gin.New()
	r.POST("/password", func(c *gin.Context) {
		c.Set(global.CtxClaims, &utils.Claims{Username: name, SessionID: "s"})
		h.Password(c)
	})
	req := httptest.NewRequest(http.MethodPost, "/password", strings.NewReader(`{"oldPassword":"old password","newPassword":"new password"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}
