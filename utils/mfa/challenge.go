package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/global"
	"go-jwt/utils"
)

// The login challenge: a user with TOTP on who gave the right password gets
// an mfaToken instead of a token pair, and trades it with a code for the
// pair (POST /public/login/mfa).
//
// The token is opaque, not a JWT: base64url of 32 random bytes followed by
// the user name (so its Redis key can carry the user's hash tag). It has no
// dot, so no JWT parser reads it, and it carries no claims any other route
// could take for an access or refresh token. It is good for ChallengeTTL,
// once, and dies after MaxAttempts wrong codes.
const (
	// ChallengeTTL is how long an mfaToken lives.
	ChallengeTTL = 5 * time.Minute
	// MaxAttempts is how many wrong codes kill an mfaToken.
	MaxAttempts     = 5
	challengeRandom = 32
	// maxChallengeLen bounds what is decoded: 32 bytes and a 64-byte name.
	maxChallengeLen = 128
)

func challengeKey(user string, random []byte) string {
	id := sha256.Sum256(random)
	return stateKey(user) + ":c:" + hex.EncodeToString(id[:])
}

// NewChallenge starts the second login step of user and returns its
// mfaToken. account is the account version whose password was checked
// (utils.Account.Version): Challenge hands it back, so the second step can
// refuse a token of an account changed or deleted (and maybe registered
// again) in between.
func (s *Store) NewChallenge(ctx context.Context, user, account string) (string, error) {
	random := make([]byte, challengeRandom)
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	key := challengeKey(user, random)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "d", s.now().Add(ChallengeTTL).UnixMilli(), "n", 0, "a", account)
		p.PExpire(ctx, key, ChallengeTTL)
		return nil
	})
	if err != nil {
		return "", storeErr(err)
	}
	return base64.RawURLEncoding.EncodeToString(append(random, user...)), nil
}

// parseChallenge returns the user and Redis key a token names.
func parseChallenge(token string) (user, key string, ok bool) {
	if len(token) > maxChallengeLen {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= challengeRandom || base64.RawURLEncoding.EncodeToString(raw) != token {
		return "", "", false
	}
	user = string(raw[challengeRandom:])
	if !validName(user) {
		return "", "", false
	}
	return user, challengeKey(user, raw[:challengeRandom]), true
}

// validName reports whether name is a user name in its stored form, so no
// brace can break out of the hash tag.
func validName(name string) bool {
	canon, err := utils.CanonicalUsername(name)
	return err == nil && canon == name
}

// Challenge returns the user of a live mfaToken and the account version
// given to NewChallenge, without spending it, so the caller can check the
// account and the user's failure budget before any code is tried.
// global.ErrTokenMFA for an unknown, spent, expired or dead one.
func (s *Store) Challenge(ctx context.Context, token string) (user, account string, err error) {
	user, key, ok := parseChallenge(token)
	if !ok {
		return "", "", global.ErrTokenMFA
	}
	v, err := s.rdb.HMGet(ctx, key, "d", "n", "a").Result()
	if err != nil {
		return "", "", storeErr(err)
	}
	d, _ := v[0].(string)
	n, _ := v[1].(string)
	account, _ = v[2].(string)
	deadline, err1 := strconv.ParseInt(d, 10, 64)
	wrong, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || deadline <= s.now().UnixMilli() || wrong >= MaxAttempts {
		return "", "", global.ErrTokenMFA
	}
	return user, account, nil
}

// Redeem spends token with code (a TOTP code or a recovery code; with
// recoveryOnly, a recovery code only) and returns its user: one script
// checks the token, spends the code and the token, so neither works twice.
// A wrong code is global.ErrWrongCode and counts against the token;
// global.ErrTokenMFA when the token is not live.
func (s *Store) Redeem(ctx context.Context, token, code string, recoveryOnly bool) (string, error) {
	user, key, ok := parseChallenge(token)
	if !ok {
		return "", global.ErrTokenMFA
	}
	return user, s.spend(ctx, user, code, recoveryOnly, key)
}
