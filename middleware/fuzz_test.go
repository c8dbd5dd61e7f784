package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/utils"
)

// fuzzTokensEnv hands the pair the coordinator of a fuzz run issued to its
// worker processes (they inherit its environment), so the valid seed is the
// valid token in every process: same key, same clock, same token.
const fuzzTokensEnv = "GO_JWT_FUZZ_HEADER_TOKENS"

// oneSession is the session store of one live access token: only its jti
// passes, every other token is revoked.
type oneSession struct{ jti string }

func (s oneSession) CheckAccess(_ context.Context, c *utils.Claims) error {
	if c.ID != s.jti {
		return global.ErrTokenRevoked
	}
	return nil
}

// FuzzJWTHeader sends arbitrary Authorization headers through
// middleware.JWT. Only the one issued token, as the Bearer token of the
// header, gets through (200); everything else is 401 invalid_token with a
// Bearer challenge; nothing is a 5xx or a panic.
//
//	go test -run '^$' -fuzz '^FuzzJWTHeader$' -fuzztime 60s ./middleware/
func FuzzJWTHeader(f *testing.F) {
	gin.SetMode(gin.TestMode)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	codec := utils.NewJWT([]byte("fuzz-secret-fuzz-secret-fuzz-sec"), "jwt-demo", 15*time.Minute, 168*time.Hour, 720*time.Hour,
		func() time.Time { return now })
	tok, refresh, ok := strings.Cut(os.Getenv(fuzzTokensEnv), " ")
	if !ok {
		p, err := codec.Issue("kesa", "fuzz-session", now, nil)
		if err != nil {
			f.Fatal(err)
		}
		tok, refresh = p.Access, p.Refresh
		f.Setenv(fuzzTokensEnv, tok+" "+refresh)
	}
	claims, err := codec.Parse(tok, global.TokenAccess)
	if err != nil {
		f.Fatal(err)
	}
	// respelled has other unused low bits in the signature's last character:
	// the same signature bytes, not the same token.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	respelled := tok[:len(tok)-1] + string(alphabet[strings.IndexByte(alphabet, tok[len(tok)-1])^1])
	r := gin.New()
	r.GET("/private", middleware.JWT(codec, oneSession{claims.ID}, nil), func(c *gin.Context) {
		c.String(http.StatusOK, middleware.Claims(c).ID)
	})

	for _, h := range []string{
		"Bearer " + tok,
		"bearer " + tok,
		"BeArEr " + tok,
		"Bearer  " + tok + " ",
		"\t Bearer " + tok + "\r\n",
		"Bearer " + tok + "x",
		"Bearer " + tok[:len(tok)-1],
		"Bearer " + respelled,
		"Bearer " + tok[:len(tok)-5] + "\r\n" + tok[len(tok)-5:],
		"Bearer " + tok + " " + tok,
		"Bearer\t" + tok,
		"Bearer" + tok,
		"Token " + tok,
		tok,
		"Bearer " + refresh,
		"Basic x",
		"Basic a2VzYToxMjM=",
		"Bearer",
		"Bearer ",
		"",
		" ",
		"Bearer " + strings.Repeat("a", utils.MaxTokenLen+1),
		"Bearer " + strings.Repeat(".", 64<<10),
		strings.Repeat("Bearer ", 10000),
		"Bearer \x00" + tok,
		"Bearer " + tok + "\x00",
		"Bearer \x7f\x1b[31m.\u2028.\ufeff",
		"\xffBearer " + tok,
	} {
		f.Add(h)
	}

	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/private", nil)
		req.Header["Authorization"] = []string{header} // as sent: no validation, no canonical form
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)

		bearer, _ := middleware.BearerToken(header)
		switch w.Code {
		case http.StatusOK:
			// Independently of BearerToken: what is not the token is the
			// scheme and white space.
			rest := strings.TrimSpace(strings.Replace(header, tok, "", 1))
			if bearer != tok || !strings.EqualFold(rest, "Bearer") {
				t.Fatalf("200 for header %q, which does not carry the issued token", header)
			}
			if w.Body.String() != claims.ID {
				t.Fatalf("200 without the token's claims in the context: %q", w.Body)
			}
		case http.StatusUnauthorized:
			if bearer == tok {
				t.Fatalf("the issued token was refused in header %q: %s", header, w.Body)
			}
			var e struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error != "invalid_token" || e.Message == "" {
				t.Fatalf("401 body %q for header %q, want {\"error\":\"invalid_token\",\"message\":…}", w.Body, header)
			}
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("401 Content-Type %q", w.Header().Get("Content-Type"))
			}
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 WWW-Authenticate %q for header %q", w.Header().Get("WWW-Authenticate"), header)
			}
		default:
			t.Fatalf("status %d for header %q: %s", w.Code, header, w.Body)
		}
	})
}
