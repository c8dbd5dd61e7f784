package initialize

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/metrics"
)

// TestQuietRoutesAreTheOnesThatOnlyRead sends each route, on the service's
// own router served on a quiet listener, a request with a one-byte body.
// net/http starts its background read once that body is read (by the
// handler, or by net/http after it), and a quiet request leaves that read
// out; so only the routes that only read must send no one-byte read to the
// socket. A refresh, a login or a logout whose client left must still be
// canceled.
func TestQuietRoutesAreTheOnesThatOnlyRead(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"JWT_SECRET": "test-secret-test-secret-test-secret", "ARGON2_MEMORY_KIB": "1024",
		"ARGON2_TIME": "1", "DATA_KEY": "test-data-key-test-data-key-test-data"}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	mini := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	router, err := Router(t.Context(), cfg, rdb, slog.New(slog.DiscardHandler), metrics.New(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: l}
	// net/http sends the answer before it ends the background read (it
	// waits for it, on a route that is not quiet, only then): the count is
	// read once net/http is done with the request, as the connection goes
	// idle (or is closed), here reported by the client's address.
	done := make(chan string, 64)
	connState := func(c net.Conn, s http.ConnState) {
		quietState(c, s)
		if s == http.StateIdle || s == http.StateClosed {
			done <- c.RemoteAddr().String()
		}
	}
	srv := &http.Server{Handler: router, ConnContext: quietContext, ConnState: connState, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(&quietListener{Listener: counting}) }()
	t.Cleanup(func() { _ = srv.Close() })

	for _, tc := range []struct {
		method, path string
		quiet        bool
	}{
		{"GET", "/user/welcome", true},
		{"GET", "/user/me", true},
		{"GET", "/user/sessions", true},
		{"GET", "/user/passkeys", true},
		{"GET", "/user/mfa", true},
		{"GET", "/auth/verify", true},
		{"POST", "/auth/verify", true},
		{"GET", "/public/refresh", false},
		{"POST", "/public/refresh", false},
		{"POST", "/public/login", false},
		{"GET", "/user/logout", false},
		{"POST", "/user/logout-all", false},
		{"DELETE", "/user/sessions/x", false},
		{"POST", "/user/password", false},
		{"POST", "/user/mfa/totp/enroll", false},
		{"GET", "/admin/users", false},
		{"GET", "/public/ping", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			before := counting.ones.Load()
			if _, err := io.WriteString(c, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: x\r\n"+
				"Content-Type: application/json\r\nContent-Length: 1\r\n\r\n{"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			for served := false; !served; {
				select {
				case addr := <-done:
					served = addr == c.LocalAddr().String()
				case <-time.After(5 * time.Second):
					t.Fatal("net/http not done with the request after 5 s")
				}
			}
			if watched := counting.ones.Load() > before; watched == tc.quiet {
				t.Errorf("%d: net/http watched the connection: %v, want %v", resp.StatusCode, watched, !tc.quiet)
			}
		})
	}
}
