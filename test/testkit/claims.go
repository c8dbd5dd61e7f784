package testkit

import (
	"testing"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/utils"
)

// Resign returns token (an HS256 token of the service) with its claims
// changed by edit and signed again with secret. Its jti and sid are kept,
// so it stays its session's live token: a test can give a real session
// claims the codec does not issue (roles, amr) without a way to get them.
func Resign(t testing.TB, token string, secret []byte, edit func(*utils.Claims)) string {
	t.Helper()
	c := new(utils.Claims)
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		t.Fatalf("resign: %v", err)
	}
	edit(c)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		t.Fatalf("resign: %v", err)
	}
	return signed
}
