package v1

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v4"

	"go-jwt/global"
	"go-jwt/utils"
)

// typedTokens parses "access:<name>" and "refresh:<name>" tokens.
type typedTokens struct{ Tokens }

func (typedTokens) Parse(token, want string) (*utils.Claims, error) {
	typ, name, ok := strings.Cut(token, ":")
	switch {
	case !ok:
		return nil, global.ErrTokenMalformed
	case typ != want:
		return nil, global.ErrTokenType
	}
	now := time.Unix(1700000000, 0)
	return &utils.Claims{Username: name, Type: typ, SessionID: "sid", RegisteredClaims: jwt.RegisteredClaims{
		ID: "jti", Issuer: "jwt-demo", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}}, nil
}

// liveNames: users "revoked" have no live token, "down" is a Redis outage.
type liveNames struct{ asked []string }

func (l *liveNames) check(typ string, c *utils.Claims) error {
	l.asked = append(l.asked, typ)
	switch c.Username {
	case "revoked":
		return global.ErrTokenRevoked
	case "down":
		return global.ErrStoreUnavailable
	}
	return nil
}
func (l *liveNames) CheckAccess(_ context.Context, c *utils.Claims) error {
	return l.check("access", c)
}
func (l *liveNames) CheckRefresh(_ context.Context, c *utils.Claims) error {
	return l.check("refresh", c)
}

const testIntrospectSecret = "introspect-secret/with+form&chars"

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestIntrospect(t *testing.T) {
	gin.SetMode(gin.TestMode)
	ok := "Bearer " + testIntrospectSecret
	tests := []struct {
		name      string
		auth      string
		body      string
		ctype     string
		status    int
		active    bool
		typ       string   // token_type when active
		asked     []string // the session checks made
		challenge bool
	}{
		{name: "live access token", auth: ok, body: "token=access:kesa", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "live refresh token", auth: ok, body: "token=refresh:kesa", status: 200, active: true, typ: "refresh", asked: []string{"refresh"}},
		{name: "hint orders the checks", auth: ok, body: "token=refresh:kesa&token_type_hint=refresh_token", status: 200, active: true, typ: "refresh", asked: []string{"refresh"}},
		{name: "a wrong hint is only a hint", auth: ok, body: "token=access:kesa&token_type_hint=refresh_token", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "unknown hint ignored", auth: ok, body: "token=access:kesa&token_type_hint=id_token", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "JSON body", auth: ok, body: `{"token":"access:kesa"}`, ctype: "application/json", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "revoked", auth: ok, body: "token=access:revoked", status: 200, asked: []string{"access"}},
		{name: "garbage", auth: ok, body: "token=garbage", status: 200},
		{name: "Redis down is 503, not inactive", auth: ok, body: "token=access:down", status: 503, asked: []string{"access"}},
		{name: "missing token", auth: ok, body: "token_type_hint=access_token", status: 400},
		{name: "Basic, any user name", auth: basic("billing-service", testIntrospectSecret), body: "token=access:kesa", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "Basic, form-encoded secret (RFC 6749 2.3.1)", auth: basic("svc", url.QueryEscape(testIntrospectSecret)), body: "token=access:kesa", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "bearer scheme in lower case", auth: "bearer " + testIntrospectSecret, body: "token=access:kesa", status: 200, active: true, typ: "access", asked: []string{"access"}},
		{name: "no credentials", body: "token=access:kesa", status: 401, challenge: true},
		{name: "wrong secret", auth: "Bearer " + testIntrospectSecret + "x", body: "token=access:kesa", status: 401, challenge: true},
		{name: "secret prefix", auth: "Bearer " + testIntrospectSecret[:10], body: "token=access:kesa", status: 401, challenge: true},
		{name: "Basic, secret as the user name", auth: basic(testIntrospectSecret, ""), body: "token=access:kesa", status: 401, challenge: true},
		{name: "Basic without a colon", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(testIntrospectSecret)), body: "token=access:kesa", status: 401, challenge: true},
		{name: "Basic not base64", auth: "Basic %%%", body: "token=access:kesa", status: 401, challenge: true},
		{name: "an access token instead of the secret", auth: "Bearer access:kesa", body: "token=access:kesa", status: 401, challenge: true},
		{name: "scheme only", auth: "Bearer", body: "token=access:kesa", status: 401, challenge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := &liveNames{}
			h := &Introspect{Tokens: typedTokens{}, Sessions: live, Secret: []byte(testIntrospectSecret)}
			r := gin.New()
			r.POST("/introspect", h.Introspect)
			req := httptest.NewRequest(http.MethodPost, "/introspect", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); (got == `Basic realm="introspect"`) != tt.challenge {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if strings.Join(live.asked, ",") != strings.Join(tt.asked, ",") {
				t.Fatalf("session checks %v, want %v", live.asked, tt.asked)
			}
			if tt.status != 200 {
				return
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if !tt.active {
				if w.Body.String() != `{"active":false}` {
					t.Fatalf("inactive body %s, want exactly {\"active\":false}", w.Body)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got["active"] != true || got["token_type"] != tt.typ || got["username"] != "kesa" || got["sub"] != "kesa" ||
				got["iss"] != "jwt-demo" || got["jti"] != "jti" || got["sid"] != "sid" || got["exp"] != 1700000060.0 || got["iat"] != 1700000000.0 {
				t.Fatalf("active answer %v", got)
			}
		})
	}
}
