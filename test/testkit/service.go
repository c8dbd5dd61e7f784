package testkit

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/initialize"
	"go-jwt/metrics"
)

// Service serves the production router (initialize.Router, real clock) on
// miniredis over HTTP on loopback until the test ends, and returns its base
// URL. env goes on top of the demo user kesa:123 and cheap password hashes.
func Service(t testing.TB, env map[string]string) string {
	t.Helper()
	gin.SetMode(gin.TestMode)
	vars := map[string]string{"DEMO_USER": "kesa:123", "ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME": "1"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := initialize.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	router, err := initialize.Router(t.Context(), cfg, Backends(t)[0].Client,
		slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return srv.URL
}
