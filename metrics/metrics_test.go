package metrics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/metrics"
)

func TestRedisHook(t *testing.T) {
	m := metrics.New()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	rdb.AddHook(m.RedisHook())
	ctx := context.Background()
	rdb.Set(ctx, "k", "v", 0)
	rdb.Get(ctx, "missing") // redis.Nil: an answer, not an error
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); p.Get(ctx, "k"); return nil })
	mr.Close()
	rdb.Get(ctx, "k")

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	text := w.Body.String()
	for _, line := range []string{
		`redis_command_duration_seconds_count{command="set"} 1`,
		`redis_command_duration_seconds_count{command="get"} 2`,
		`redis_command_duration_seconds_count{command="pipeline"} 1`,
		`redis_errors_total{command="get"} 1`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(text, `redis_errors_total{command="set"}`) || strings.Contains(text, `redis_errors_total{command="pipeline"}`) {
		t.Error("a success was counted as an error")
	}
}

// Requests are counted on children resolved once per route, method and
// status; past the cache's bound (methods come from clients) every series is
// still counted.
func TestRequestSeries(t *testing.T) {
	m := metrics.New()
	for range 3 {
		m.Request("/user/welcome", "GET", 200, time.Millisecond)
	}
	m.Request("/user/welcome", "GET", 401, time.Millisecond)
	for i := range 1100 {
		m.Request("unmatched", fmt.Sprintf("M%d", i), 404, time.Millisecond)
	}
	m.Request("unmatched", "M1099", 404, time.Millisecond)

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	text := w.Body.String()
	for _, line := range []string{
		`http_requests_total{method="GET",route="/user/welcome",status="200"} 3`,
		`http_requests_total{method="GET",route="/user/welcome",status="401"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/user/welcome",status="200"} 3`,
		`http_requests_total{method="M0",route="unmatched",status="404"} 1`,
		`http_requests_total{method="M1099",route="unmatched",status="404"} 2`,
		`http_request_duration_seconds_count{method="M1099",route="unmatched",status="404"} 2`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if n := strings.Count(text, "http_requests_total{"); n != 1102 {
		t.Errorf("%d request series, want 1102", n)
	}
}

func TestRequestAllocatesNothing(t *testing.T) {
	m := metrics.New()
	m.Request("/user/welcome", "GET", 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.Request("/user/welcome", "GET", 200, time.Millisecond) }); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}
