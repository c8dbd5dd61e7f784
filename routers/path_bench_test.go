package routers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go-jwt/initialize"
	"go-jwt/metrics"
	"go-jwt/middleware"
	"go-jwt/test/testkit"
)

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// that the benchmark counts the router's allocations, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkRequestPath is the whole production router in release mode (JSON
// access log, metrics, request id, recovery) on one request, without the
// network: time and allocations per request of ping and of welcome (whose
// revocation check goes to the test Redis: the real one when REDIS_TEST_ADDR
// is set, so that only the service's own allocations are counted).
//
//	REDIS_TEST_ADDR=127.0.0.1:6379 go test -run '^$' -bench RequestPath -benchmem ./routers/
func BenchmarkRequestPath(b *testing.B) {
	vars := map[string]string{"GIN_MODE": "release", "JWT_SECRET": "test-secret-test-secret-test-secret",
		"DEMO_USER": "bench:bench-password", "ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME": "1",
		"DATA_KEY": "bench-data-key-bench-data-key-bench-data-key"}
	cfg, err := initialize.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(middleware.NewLogHandler(true, io.Discard, io.Discard))
	backends := testkit.Backends(b)
	router, err := initialize.Router(b.Context(), cfg, backends[len(backends)-1].Client, log, metrics.New(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	login := httptest.NewRequest(http.MethodPost, "/public/login", strings.NewReader("username=bench&password=bench-password"))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	router.ServeHTTP(w, login)
	var pair struct{ AccessToken, RefreshToken string }
	if err := json.Unmarshal(w.Body.Bytes(), &pair); err != nil || pair.AccessToken == "" {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	for _, bc := range []struct {
		name, path string
		header     http.Header
	}{
		{"ping", "/public/ping", http.Header{}},
		{"welcome", "/user/welcome", http.Header{"Authorization": {"Bearer " + pair.AccessToken}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, bc.path, nil)
			r.Header = bc.header
			dw := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(dw.h)
				router.ServeHTTP(dw, r)
				if dw.status != 0 && dw.status != http.StatusOK {
					b.Fatalf("status %d", dw.status)
				}
			}
		})
	}
	// A refresh rotates: each answer's refresh token is the next request's
	// (cut out of the body; that string is one of the allocations counted).
	// (-count runs it again: with the latest token.)
	refreshH := http.Header{"Authorization": {"Bearer " + pair.RefreshToken}}
	b.Run("refresh", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodPost, "/public/refresh", nil)
		r.Header = refreshH
		bw := &bodyWriter{discardWriter: discardWriter{h: http.Header{}}}
		b.ReportAllocs()
		for b.Loop() {
			clear(bw.h)
			bw.body = bw.body[:0]
			router.ServeHTTP(bw, r)
			_, rest, ok := bytes.Cut(bw.body, []byte(`"refreshToken":"`))
			token, _, _ := bytes.Cut(rest, []byte(`"`))
			if bw.status != http.StatusOK || !ok {
				b.Fatalf("status %d: %s", bw.status, bw.body)
			}
			r.Header["Authorization"][0] = "Bearer " + string(token)
		}
	})
}

// bodyWriter is a discardWriter that keeps the body, in a buffer reused.
type bodyWriter struct {
	discardWriter
	body []byte
}

func (w *bodyWriter) Write(p []byte) (int, error) { w.body = append(w.body, p...); return len(p), nil }
