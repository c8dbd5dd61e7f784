package v1

import (
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/utils"
)

// Password rules for new passwords. The upper bound keeps the cost of
// hashing bounded; the demo user is exempt so the tutorial's "123" works.
const (
	minPassword = 8
	maxPassword = 128
)

func validPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < minPassword || n > maxPassword {
		return fmt.Errorf("%w: password must be %d to %d characters", global.ErrInvalidRequest, minPassword, maxPassword)
	}
	return nil
}

// checkPassword returns the canonical name of username if password is
// theirs, else fail. In order: the failure budget of the user and the client
// IP (429 before any hashing is spent), then the hash check, charged to both
// budgets when it fails. An unknown user is checked against a dummy hash, so
// it costs the same time and gets the same answer as a wrong password. A hash
// made under older parameters is replaced after a success.
func checkPassword(c *gin.Context, users UserStore, hasher PasswordHasher, limiter Limiter, log *slog.Logger,
	username, password string, fail error) (string, error) {
	ctx, ip := c.Request.Context(), c.ClientIP()
	name, nameErr := utils.CanonicalUsername(username)
	if err := limiter.Check(ctx, name, ip); err != nil {
		if errors.Is(err, global.ErrRateLimited) {
			log.Warn("rate limited", "user", name, "ip", ip, "request_id", c.GetString(global.CtxRequestID))
		}
		return "", err
	}
	var stored string
	if nameErr == nil {
		var err error
		if stored, err = users.PasswordHash(ctx, name); err != nil && !errors.Is(err, global.ErrUserNotFound) {
			return "", err
		}
	}
	ok, rehash, err := hasher.Verify(ctx, stored, password) // stored "" → dummy hash
	if err != nil {
		return "", err
	}
	if !ok {
		if err := limiter.Fail(ctx, name, ip); err != nil {
			return "", err
		}
		return "", fail
	}
	if rehash {
		hash, err := hasher.Hash(ctx, password)
		if err == nil {
			err = users.SetPasswordHash(ctx, name, hash)
		}
		if err != nil { // the check itself succeeded: log, do not fail
			log.Warn("password rehash failed", "user", name, "err", err.Error())
		}
	}
	return name, nil
}
