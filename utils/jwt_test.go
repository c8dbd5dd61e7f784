package utils_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// maxAge is the tests' SESSION_MAX_AGE, the codec's and the store's.
const maxAge = 720 * time.Hour

func newCodec(clock *testkit.Clock) *utils.JWT {
	return utils.NewJWT(secret, "jwt-demo", 15*time.Minute, 168*time.Hour, maxAge, clock.Now)
}

// sign signs arbitrary claims with method and key, for hostile tokens.
func sign(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParse(t *testing.T) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	pair, err := codec.Issue("kesa", "sid-1", clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	valid := pair.AccessClaims
	with := func(f func(c *utils.Claims)) *utils.Claims {
		c := valid
		f(&c)
		return &c
	}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(pair.Access, ".")

	tests := []struct {
		name  string
		token string
		want  string
		codec *utils.JWT
		err   error
	}{
		{name: "valid access token", token: pair.Access, want: global.TokenAccess},
		{name: "valid refresh token", token: pair.Refresh, want: global.TokenRefresh},
		{name: "refresh token rejected where access wanted", token: pair.Refresh, want: global.TokenAccess, err: global.ErrTokenType},
		{name: "access token rejected where refresh wanted", token: pair.Access, want: global.TokenRefresh, err: global.ErrTokenType},
		{name: "expired", want: global.TokenAccess, err: global.ErrTokenExpired,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second)) }), secret)},
		{name: "expiring exactly now", want: global.TokenAccess, err: global.ErrTokenExpired,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.ExpiresAt = jwt.NewNumericDate(now) }), secret)},
		{name: "nbf in the future", want: global.TokenAccess, err: global.ErrTokenNotYet,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) }), secret)},
		{name: "missing exp", want: global.TokenAccess, err: global.ErrTokenClaims,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.ExpiresAt = nil }), secret)},
		{name: "missing iss", want: global.TokenAccess, err: global.ErrTokenIssuer,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.Issuer = "" }), secret)},
		{name: "missing sid", want: global.TokenAccess, err: global.ErrTokenClaims,
			token: sign(t, jwt.SigningMethodHS256, with(func(c *utils.Claims) { c.SessionID = "" }), secret)},
		{name: "wrong issuer", token: pair.Access, want: global.TokenAccess, err: global.ErrTokenIssuer,
			codec: utils.NewJWT(secret, "someone-else", time.Minute, time.Hour, time.Hour, clock.Now)},
		{name: "wrong signature key", token: pair.Access, want: global.TokenAccess, err: global.ErrTokenSignature,
			codec: utils.NewJWT([]byte("another-secret-another-secret-xx"), "jwt-demo", time.Minute, time.Hour, time.Hour, clock.Now)},
		{name: "alg none", want: global.TokenAccess, err: global.ErrTokenAlgorithm,
			token: sign(t, jwt.SigningMethodNone, &valid, jwt.UnsafeAllowNoneSignatureType)},
		{name: "alg none with empty signature and HS256 payload", want: global.TokenAccess, err: global.ErrTokenAlgorithm,
			token: b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		{name: "HS512 with the same secret", want: global.TokenAccess, err: global.ErrTokenAlgorithm,
			token: sign(t, jwt.SigningMethodHS512, &valid, secret)},
		{name: "HS384 with the same secret", want: global.TokenAccess, err: global.ErrTokenAlgorithm,
			token: sign(t, jwt.SigningMethodHS384, &valid, secret)},
		{name: "tampered payload", want: global.TokenAccess, err: global.ErrTokenSignature,
			token: parts[0] + "." + b64([]byte(strings.Replace(mustDecode(t, parts[1]), `"kesa"`, `"admin"`, 1))) + "." + parts[2]},
		{name: "signature stripped", want: global.TokenAccess, err: global.ErrTokenSignature,
			token: parts[0] + "." + parts[1] + "."},
		{name: "garbage", token: "not-a-token", want: global.TokenAccess, err: global.ErrTokenMalformed},
		{name: "three garbage parts", token: "a.b.c", want: global.TokenAccess, err: global.ErrTokenMalformed},
		{name: "empty", token: "", want: global.TokenAccess, err: global.ErrTokenMissing},
		{name: "100,000 dots", token: strings.Repeat(".", 100000), want: global.TokenAccess, err: global.ErrTokenMalformed},
		{name: "4,000 dots under the length cap", token: strings.Repeat(".", 4000), want: global.TokenAccess, err: global.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.codec
			if c == nil {
				c = codec
			}
			claims, err := c.Parse(tt.token, tt.want)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if claims.Username != "kesa" || claims.SessionID != "sid-1" || claims.Type != tt.want {
					t.Fatalf("claims = %+v", claims)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !errors.Is(err, global.ErrInvalidToken) {
				t.Fatalf("err %v does not match ErrInvalidToken", err)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExpiryFollowsTheClock(t *testing.T) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	pair, err := codec.Issue("kesa", "sid", clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(15*time.Minute - time.Second)
	if _, err := codec.Parse(pair.Access, global.TokenAccess); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := codec.Parse(pair.Access, global.TokenAccess); !errors.Is(err, global.ErrTokenExpired) {
		t.Fatalf("at expiry: %v, want ErrTokenExpired", err)
	}
	if _, err := codec.Parse(pair.Refresh, global.TokenRefresh); err != nil {
		t.Fatalf("refresh token outlives the access token: %v", err)
	}
}

func TestIssueNeverPassesSessionMaxAge(t *testing.T) {
	clock := testkit.NewClock()
	codec := newCodec(clock) // refresh 168h, max age 720h
	login := clock.Now()
	clock.Advance(700 * time.Hour)
	pair, err := codec.Issue("kesa", "sid", login, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := login.Add(720 * time.Hour)
	if got := pair.RefreshClaims.ExpiresAt.Time; !got.Equal(deadline) {
		t.Fatalf("refresh exp = %v, want the session deadline %v", got, deadline)
	}
	clock.Advance(20 * time.Hour)
	if _, err := codec.Issue("kesa", "sid", login, nil); !errors.Is(err, global.ErrTokenExpired) {
		t.Fatalf("issue past the deadline: %v, want ErrTokenExpired", err)
	}
}

func TestIssueClaims(t *testing.T) {
	clock := testkit.NewClock()
	pair, err := newCodec(clock).Issue("kesa", "sid", clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, r := pair.AccessClaims, pair.RefreshClaims
	if a.ID == "" || r.ID == "" || a.ID == r.ID {
		t.Fatalf("jti must be set and differ: %q %q", a.ID, r.ID)
	}
	if a.Issuer != "jwt-demo" || a.Type != global.TokenAccess || r.Type != global.TokenRefresh {
		t.Fatalf("claims: %+v %+v", a, r)
	}
	if got := a.ExpiresAt.Sub(a.IssuedAt.Time); got != 15*time.Minute {
		t.Fatalf("access lifetime %v", got)
	}
	if got := r.ExpiresAt.Sub(r.IssuedAt.Time); got != 168*time.Hour {
		t.Fatalf("refresh lifetime %v", got)
	}
}

func TestVerifiedTokensAreStillValidatedOnEveryUse(t *testing.T) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	pair, err := codec.Issue("kesa", "sid", clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second parse is served by the cache of verified tokens
		c, err := codec.Parse(pair.Access, global.TokenAccess)
		if err != nil || c.Username != "kesa" {
			t.Fatalf("Parse: %+v %v", c, err)
		}
		c.Username = "mallory" // the caller's copy; must not reach the cache
	}
	if c, _ := codec.Parse(pair.Access, global.TokenAccess); c.Username != "kesa" {
		t.Fatalf("cached claims were changed through a returned copy: %q", c.Username)
	}
	if _, err := codec.Parse(pair.Access, global.TokenRefresh); !errors.Is(err, global.ErrTokenType) {
		t.Fatalf("cached access token accepted as refresh: %v", err)
	}
	clock.Advance(15 * time.Minute)
	if _, err := codec.Parse(pair.Access, global.TokenAccess); !errors.Is(err, global.ErrTokenExpired) {
		t.Fatalf("cached token after expiry: %v", err)
	}
}

// The codec builds the header segment once; its tokens must be byte for
// byte what jwt/v4's own SignedString makes of the same claims (HS256, and
// EdDSA with its kid: both deterministic).
func TestTokensAreWhatJWTv4Signs(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	edKeys, err := utils.NewKeys(utils.AlgEdDSA, edKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		keys   *utils.Keys
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", utils.NewHMACKeys(secret), jwt.SigningMethodHS256, secret},
		{"EdDSA", edKeys, jwt.SigningMethodEdDSA, edKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewClock()
			codec := utils.NewJWTWithKeys(tc.keys, "jwt-demo", 15*time.Minute, time.Hour, 2*time.Hour, clock.Now)
			p, err := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range []struct {
				got    string
				claims utils.Claims
			}{{p.Access, p.AccessClaims}, {p.Refresh, p.RefreshClaims}} {
				tok := jwt.NewWithClaims(tc.method, &pair.claims)
				if kid := tc.keys.KeyID(); kid != "" {
					tok.Header["kid"] = kid
				}
				want, err := tok.SignedString(tc.key)
				if err != nil {
					t.Fatal(err)
				}
				if pair.got != want {
					t.Fatalf("token\n%s\njwt/v4's\n%s", pair.got, want)
				}
			}
		})
	}
}
