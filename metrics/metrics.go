// Package metrics defines the service's Prometheus metrics on a registry of
// its own (no global state): HTTP traffic, token events, login failures and
// rate-limit hits, Redis calls, and the Go runtime and process collectors.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every metric of one service instance.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	revoked       *prometheus.CounterVec
	loginFailures prometheus.Counter
	rateLimited   prometheus.Counter
	redisLatency  *prometheus.HistogramVec
	redisErrors   *prometheus.CounterVec

	dpopRejected *prometheus.CounterVec
}

// New returns the metrics, registered on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by route template, method and status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_tokens_total", Help: "Token pairs handed out, by event (issued at login, refreshed by rotation).",
		}, []string{"event"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_tokens_rejected_total", Help: "Tokens refused, by reason (expired, bad_signature, wrong_type, revoked, reuse_detected …).",
		}, []string{"reason"}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_sessions_revoked_total", Help: "Sessions revoked, by cause (logout, logout-all, session-revoke, password-change, reuse).",
		}, []string{"by"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_login_failures_total", Help: "Failed password checks (login and password change).",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_rate_limited_total", Help: "Requests refused by the brute-force limits.",
		}),
		redisLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_command_duration_seconds", Help: "Redis call latency by command (pipeline for pipelines).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"command"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_errors_total", Help: "Failed Redis calls by command.",
		}, []string{"command"}),
	}
	m.dpopRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_dpop_proofs_rejected_total", Help: "DPoP proofs refused, by reason (missing, bad_signature, bad_htu, stale, replayed, key_mismatch, nonce_missing …).",
	}, []string{"reason"})
	m.Registry.MustRegister(m.dpopRejected)
	m.Registry.MustRegister(m.requests, m.latency, m.tokens, m.rejected, m.revoked, m.loginFailures, m.rateLimited,
		m.redisLatency, m.redisErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Request records one HTTP request.
func (m *Metrics) Request(route, method, status string, d time.Duration) {
	m.requests.WithLabelValues(route, method, status).Inc()
	m.latency.WithLabelValues(route, method, status).Observe(d.Seconds())
}

// Issued counts a token pair handed out at login.
func (m *Metrics) Issued() { m.tokens.WithLabelValues("issued").Inc() }

// Refreshed counts a token pair handed out by a rotation.
func (m *Metrics) Refreshed() { m.tokens.WithLabelValues("refreshed").Inc() }

// Rejected counts a refused token.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// Revoked counts n sessions revoked by cause.
func (m *Metrics) Revoked(by string, n int) { m.revoked.WithLabelValues(by).Add(float64(n)) }

// DPoPRejected counts a refused DPoP proof by reason (global.DPoPReason).
func (m *Metrics) DPoPRejected(reason string) { m.dpopRejected.WithLabelValues(reason).Inc() }

// LoginFailed counts a failed password check.
func (m *Metrics) LoginFailed() { m.loginFailures.Inc() }

// RateLimited counts a request refused by the limits.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// RedisHook returns a go-redis hook that times every command and pipeline
// and counts failures (redis.Nil is an answer, not a failure).
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

type startKey struct{}

func (h redisHook) BeforeProcess(ctx context.Context, _ redis.Cmder) (context.Context, error) {
	return context.WithValue(ctx, startKey{}, time.Now()), nil
}

func (h redisHook) AfterProcess(ctx context.Context, cmd redis.Cmder) error {
	h.observe(ctx, cmd.Name(), cmd.Err())
	return nil
}

func (h redisHook) BeforeProcessPipeline(ctx context.Context, _ []redis.Cmder) (context.Context, error) {
	return context.WithValue(ctx, startKey{}, time.Now()), nil
}

func (h redisHook) AfterProcessPipeline(ctx context.Context, cmds []redis.Cmder) error {
	var err error
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			err = e
			break
		}
	}
	h.observe(ctx, "pipeline", err)
	return nil
}

func (h redisHook) observe(ctx context.Context, name string, err error) {
	if start, ok := ctx.Value(startKey{}).(time.Time); ok {
		h.m.redisLatency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}
