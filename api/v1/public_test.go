package v1

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/utils"
)

// countingHasher records what Login asked it to verify.
type countingHasher struct{ verified []string }

func (h *countingHasher) Hash(context.Context, string) (string, error) { return "x", nil }
func (h *countingHasher) Verify(_ context.Context, encoded, password string) (bool, bool, error) {
	h.verified = append(h.verified, encoded)
	return encoded == "real-hash" && password == "123", false, nil
}

type oneUser struct{ UserStore }

func (oneUser) Account(_ context.Context, name string) (utils.Account, error) {
	if name == "kesa" {
		return utils.Account{Name: name, Hash: "real-hash"}, nil
	}
	return utils.Account{}, global.ErrUserNotFound
}

type noLimits struct{ Limiter }

func (noLimits) Check(context.Context, string, string) error { return nil }
func (noLimits) Fail(context.Context, string, string) error  { return nil }

// TestUnknownUsersCostAHash: an unknown user, and a name that cannot even
// exist, are each verified against a (dummy) hash exactly like a wrong
// password, so the time of a failed login does not tell which it was.
func TestUnknownUsersCostAHash(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tt := range []struct{ name, body, verified string }{
		{"wrong password", "username=kesa&password=bad", "real-hash"},
		{"unknown user", "username=nobody&password=bad", ""},
		{"impossible name", "username=a%7Bb%7D&password=bad", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hasher := &countingHasher{}
			w := login(&Public{Users: oneUser{}, Hasher: hasher, Limiter: noLimits{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, tt.body)
			if w.Code != http.StatusUnauthorized || len(hasher.verified) != 1 || hasher.verified[0] != tt.verified {
				t.Fatalf("status %d, hashes verified %q; want 401 after exactly one verification of %q", w.Code, hasher.verified, tt.verified)
			}
		})
	}
}
