package utils

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Username rules: 3 to 64 letters, digits, '_', '.', '-', compared without
// case. No braces or colons can appear, so a name is safe inside a Redis key
// and its {hash tag}.
const (
	minUsername = 3
	maxUsername = 64
)

// CanonicalUsername validates name and returns the form it is stored under
// (lower case), so "Kesa" and "kesa" are one user.
func CanonicalUsername(name string) (string, error) {
	if len(name) < minUsername || len(name) > maxUsername {
		return "", fmt.Errorf("username must be %d to %d characters", minUsername, maxUsername)
	}
	for _, r := range name {
		if !validNameRune(r) {
			return "", errors.New("username may hold only letters, digits, '_', '.' and '-'")
		}
	}
	return strings.ToLower(name), nil
}

func validNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}

// Users keeps accounts in Redis: one hash per user at global.KeyUser+"{name}"
// with the password hash (field h) and the creation time (field c).
type Users struct {
	rdb redis.UniversalClient
}

// NewUsers returns a user store on rdb.
func NewUsers(rdb redis.UniversalClient) *Users { return &Users{rdb: rdb} }

func userKey(name string) string { return global.KeyUser + "{" + name + "}" }

// Create stores a new user; global.ErrConflict if the name is taken. HSETNX
// decides atomically, so of many concurrent registrations exactly one wins.
func (u *Users) Create(ctx context.Context, name, hash string, now time.Time) error {
	created, err := u.rdb.HSetNX(ctx, userKey(name), "h", hash).Result()
	if err != nil {
		return storeErr(err)
	}
	if !created {
		return global.ErrConflict
	}
	return storeErr(u.rdb.HSet(ctx, userKey(name), "c", now.Unix()).Err())
}

// PasswordHash returns the stored hash of name; global.ErrUserNotFound if
// there is no such user.
func (u *Users) PasswordHash(ctx context.Context, name string) (string, error) {
	h, err := u.rdb.HGet(ctx, userKey(name), "h").Result()
	if errors.Is(err, redis.Nil) {
		return "", global.ErrUserNotFound
	}
	return h, storeErr(err)
}

// SetPasswordHash replaces the stored hash of an existing user.
func (u *Users) SetPasswordHash(ctx context.Context, name, hash string) error {
	return storeErr(u.rdb.HSet(ctx, userKey(name), "h", hash).Err())
}

// storeErr wraps any Redis failure (network, timeout, OOM) as
// global.ErrStoreUnavailable, so it becomes a 503 and never a 401 or 500.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err)
}
