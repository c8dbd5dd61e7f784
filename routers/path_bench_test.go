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

// BenchmarkRequestPath is the whole production router in release mode (JSON
// access log, metrics, request id, recovery) on one request, without the
// network: time and allocations per request of ping and of welcome (whose
// revocation check goes to the test Redis: the real one when REDIS_TEST_ADDR
// is set, so that only the service's own allocations are counted).
//
//	REDIS_TEST_ADDR=127.0.0.1:6379 go test -run '^$' -bench RequestPath -benchmem ./routers/
func BenchmarkRequestPath(b *testing.B) {
	router, pair := productionRouter(b)
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
			dw := &testkit.DiscardWriter{H: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(dw.H)
				dw.Wrote = false
				router.ServeHTTP(dw, r)
				if dw.Status != 0 && dw.Status != http.StatusOK {
					b.Fatalf("status %d", dw.Status)
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
		bw := &bodyWriter{DiscardWriter: testkit.DiscardWriter{H: http.Header{}}}
		b.ReportAllocs()
		for b.Loop() {
			clear(bw.H)
			bw.Wrote = false
			bw.body = bw.body[:0]
			router.ServeHTTP(bw, r)
			_, rest, ok := bytes.Cut(bw.body, []byte(`"refreshToken":"`))
			token, _, _ := bytes.Cut(rest, []byte(`"`))
			if bw.Status != http.StatusOK || !ok {
				b.Fatalf("status %d: %s", bw.Status, bw.body)
			}
			r.Header["Authorization"][0] = "Bearer " + string(token)
		}
	})
}

// bodyWriter is a testkit.DiscardWriter that keeps the body, in a buffer reused.
type bodyWriter struct {
	testkit.DiscardWriter
	body []byte
}

func (w *bodyWriter) Write(p []byte) (int, error) { w.body = append(w.body, p...); return len(p), nil }

type tokenPair struct{ AccessToken, RefreshToken string }

// productionRouter is the production router in release mode (JSON access
// log to nowhere, metrics, request id, recovery) on the test Redis, with
// the user bench logged in once.
func productionRouter(tb testing.TB) (http.Handler, tokenPair) {
	tb.Helper()
	vars := map[string]string{"GIN_MODE": "release", "JWT_SECRET": "test-secret-test-secret-test-secret",
		"DEMO_USER": "bench:bench-password", "ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME": "1",
		"DATA_KEY": "bench-data-key-bench-data-key-bench-data-key"}
	cfg, err := initialize.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(middleware.NewLogHandler(true, io.Discard, io.Discard))
	backends := testkit.Backends(tb)
	router, err := initialize.Router(tb.Context(), cfg, backends[len(backends)-1].Client, log, metrics.New(), time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	login := httptest.NewRequest(http.MethodPost, "/public/login", strings.NewReader("username=bench&password=bench-password"))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	router.ServeHTTP(w, login)
	var pair tokenPair
	if err := json.Unmarshal(w.Body.Bytes(), &pair); err != nil || pair.AccessToken == "" {
		tb.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return router, pair
}

// On the routes every request takes (and their failures) nothing asks for
// the answer's header after the answer was written: on a real connection
// each such call copies the header map (see testkit.DiscardWriter).
func TestTheRequestPathNeverReadsAWrittenHeader(t *testing.T) {
	router, pair := productionRouter(t)
	for _, tt := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/public/ping", "", 200},
		{"GET", "/user/welcome", "Bearer " + pair.AccessToken, 200},
		{"GET", "/user/welcome", "Bearer " + pair.RefreshToken, 401},
		{"GET", "/user/welcome", "", 401},
		{"POST", "/public/refresh", "Bearer " + pair.RefreshToken, 200},
		{"GET", "/no/such/route", "", 404},
	} {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		w := &testkit.DiscardWriter{H: http.Header{}}
		router.ServeHTTP(w, r)
		if w.Status != tt.want || w.Late != 0 {
			t.Errorf("%s %s: status %d (want %d), the header asked for %d times after the answer was written", tt.method, tt.path, w.Status, tt.want, w.Late)
		}
	}
}
