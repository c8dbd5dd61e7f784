package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

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
