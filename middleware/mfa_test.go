package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"go-jwt/middleware"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// allLive is a session store for which every token is live.
type allLive struct{}

func (allLive) CheckAccess(context.Context, *utils.Claims) error { return nil }

// TestRequireSecondFactor: behind JWT on a test route (as ADMIN_MFA puts it
// on the admin group), only an access token whose amr holds otp or hwk
// passes; a password-only token is 403 mfa_required.
func TestRequireSecondFactor(t *testing.T) {
	gin.SetMode(gin.TestMode)
	clock := testkit.NewClock()
	codec := utils.NewJWT([]byte("middleware-test-secret-middleware-test"), "jwt-demo", time.Minute, time.Hour, 24*time.Hour, clock.Now)
	r := gin.New()
	r.GET("/admin/test", middleware.JWT(codec, allLive{}, nil), middleware.RequireSecondFactor(), func(c *gin.Context) { c.String(http.StatusOK, "in") })
	bare := gin.New() // without JWT before it: no claims, refused
	bare.GET("/admin/test", middleware.RequireSecondFactor(), func(c *gin.Context) { c.String(http.StatusOK, "in") })
	for _, tt := range []struct {
		name   string
		amr    []string
		status int
	}{
		{"password and TOTP", []string{"pwd", "otp"}, http.StatusOK},
		{"passkey", []string{"hwk"}, http.StatusOK},
		{"password only", []string{"pwd"}, http.StatusForbidden},
		{"no amr (a session from before amr)", nil, http.StatusForbidden},
		{"unknown method", []string{"pwd", "sms"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil, tt.amr...)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/admin/test", nil)
			req.Header.Set("Authorization", "Bearer "+p.Access)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusForbidden {
				var body struct{ Error, Message string }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "mfa_required" || body.Message == "" {
					t.Fatalf("body %s: want mfa_required with a message", w.Body)
				}
			}
		})
	}
	t.Run("without JWT before it", func(t *testing.T) {
		w := httptest.NewRecorder()
		bare.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/test", nil))
		if w.Code != http.StatusForbidden {
			t.Fatalf("status %d, want 403", w.Code)
		}
	})
	t.Run("refresh token refused before the amr check", func(t *testing.T) {
		p, _ := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil, "pwd", "otp")
		req := httptest.NewRequest(http.MethodGet, "/admin/test", nil)
		req.Header.Set("Authorization", "Bearer "+p.Refresh)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", w.Code)
		}
	})
}
