package response

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// Pair's hand-written JSON is what gin's c.JSON writes for the same
// TokenPair, body and Content-Type, and a token it cannot write as it is
// goes to c.JSON.
func TestPairJSONIsGinsJSON(t *testing.T) {
	gin.SetMode(gin.TestMode)
	render := func(f func(c *gin.Context)) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		f(c)
		return w
	}
	jwtLike := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXNhIn0.c2lnbmF0dXJlLV9fLQ"
	for name, p := range map[string]TokenPair{
		"bearer pair":  {AccessToken: jwtLike, RefreshToken: jwtLike + "x", TokenType: "Bearer", ExpiresIn: 900, RefreshExpiresIn: 604800},
		"dpop pair":    {AccessToken: jwtLike, RefreshToken: jwtLike, TokenType: "DPoP", ExpiresIn: 1, RefreshExpiresIn: 0},
		"negative":     {AccessToken: "a", RefreshToken: "b", TokenType: "Bearer", ExpiresIn: -5, RefreshExpiresIn: -1},
		"empty tokens": {TokenType: "Bearer"},
		"html":         {AccessToken: "a<b>&c", RefreshToken: jwtLike, TokenType: "Bearer"},
		"quote":        {AccessToken: `a"b`, RefreshToken: `c\d`, TokenType: "Bearer"},
		"unicode":      {AccessToken: "zoë\u2028", RefreshToken: jwtLike, TokenType: "Bearer"},
	} {
		want := render(func(c *gin.Context) { c.JSON(http.StatusOK, p) })
		got := render(func(c *gin.Context) {
			if b, ok := appendPair(nil, &p); ok {
				c.Data(http.StatusOK, jsonType, b)
				return
			}
			c.JSON(http.StatusOK, p)
		})
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s:\ngot  %s %q\nwant %s %q", name, got.Body, got.Header().Get("Content-Type"), want.Body, want.Header().Get("Content-Type"))
		}
	}
	if _, ok := appendPair(nil, &TokenPair{AccessToken: jwtLike, RefreshToken: jwtLike, TokenType: "Bearer"}); !ok {
		t.Fatal("a pair of JWTs went to c.JSON: the fast path is never used")
	}
}
