package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/middleware"
	"go-jwt/utils"
)

type liveSessions struct{}

func (liveSessions) CheckAccess(context.Context, *utils.Claims) error { return nil }

// BenchmarkJWT is the token path of a private request: header, parse
// (verified-token cache warm), claims into the context, without Redis
// (see ./bench for the end-to-end figure) and without logging.
//
//	go test -run '^$' -bench JWT -benchmem ./middleware/
func BenchmarkJWT(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	codec := utils.NewJWT([]byte("0123456789abcdef0123456789abcdef"), "jwt-demo", 15*time.Minute, time.Hour, 2*time.Hour, time.Now)
	p, err := codec.Issue("kesa", "7d1c4f3e-9a0b-4c1d-8e2f-3a4b5c6d7e8f", time.Now(), nil)
	if err != nil {
		b.Fatal(err)
	}
	r := gin.New()
	r.GET("/user/welcome", middleware.JWT(codec, liveSessions{}, nil), func(c *gin.Context) {
		c.String(http.StatusOK, "Welcome ! %s", middleware.Claims(c).Username)
	})
	req := httptest.NewRequest(http.MethodGet, "/user/welcome", nil)
	req.Header.Set("Authorization", "Bearer "+p.Access)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
