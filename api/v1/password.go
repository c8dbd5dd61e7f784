package v1

import (
	"errors"
	"log/slog"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
)

// validPassword is the rule for new passwords (utils.ValidPassword), shared
// with the admin API and the command line.
func validPassword(p string) error { return utils.ValidPassword(p) }

// checkPassword returns the account of username if password is theirs,
// else fail. In order: the failure budget of the user and the client
// IP (429 before any hashing is spent), then the hash check, charged to both
// budgets when it fails. An unknown user is checked against a dummy hash, so
// it costs the same time and gets the same answer as a wrong password. A hash
// made under older parameters is replaced after a success.
func checkPassword(c *gin.Context, users UserStore, hasher PasswordHasher, limiter Limiter, log *slog.Logger,
	username, password string, fail error) (utils.Account, error) {
	ctx, ip := c.Request.Context(), c.ClientIP()
	name, nameErr := utils.CanonicalUsername(username)
	if err := limiter.Check(ctx, name, ip); err != nil {
		if errors.Is(err, global.ErrRateLimited) {
			log.Warn("rate limited", "user", name, "ip", ip, "request_id", response.RequestID(c))
		}
		return utils.Account{}, err
	}
	var acct utils.Account
	if nameErr == nil {
		var err error
		if acct, err = users.Account(ctx, name); err != nil && !errors.Is(err, global.ErrUserNotFound) {
			return utils.Account{}, err
		}
	}
	ok, rehash, err := hasher.Verify(ctx, acct.Hash, password) // "" (no such user) → dummy hash
	if err != nil {
		return utils.Account{}, err
	}
	if !ok {
		if err := limiter.Fail(ctx, name, ip); err != nil {
			return utils.Account{}, err
		}
		return utils.Account{}, fail
	}
	if rehash {
		hash, err := hasher.Hash(ctx, password)
		if err == nil {
			err = users.Rehash(ctx, name, acct.Hash, hash)
		}
		if err != nil { // the check itself succeeded: log, do not fail
			log.Warn("password rehash failed", "user", name, "err", err.Error())
		}
	}
	return acct, nil
}
