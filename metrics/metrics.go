// Package metrics defines the service's Prometheus metrics on a registry of
// its own (no global state): HTTP traffic, token events, login failures and
// rate-limit hits, Redis calls, and the Go runtime and process collectors.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every metric of one service instance.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	revoked         *prometheus.CounterVec
	loginFailures   prometheus.Counter
	rateLimited     prometheus.Counter
	redisLatencyVec *prometheus.HistogramVec
	redisErrors     *prometheus.CounterVec
	adminActions    *prometheus.CounterVec

	// verify counts /auth/verify calls (gateway mode) by outcome.
	verify *prometheus.CounterVec

	passwordHash prometheus.Histogram

	// dpopRejected counts refused DPoP proofs by reason.
	dpopRejected *prometheus.CounterVec

	// The children a request or Redis call records to, resolved once.
	http         *series[httpKey, httpSeries]
	redisLatency *series[string, prometheus.Observer]
}

type httpKey struct {
	route, method string
	status        int
}

type httpSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
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
		redisLatencyVec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "redis_command_duration_seconds", Help: "Redis call latency by command (pipeline for pipelines).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"command"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_errors_total", Help: "Failed Redis calls by command.",
		}, []string{"command"}),
		adminActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_admin_actions_total", Help: "Admin actions done, by action (create, roles, lock, unlock, password, logout-all, delete).",
		}, []string{"action"}),
	}
	m.Registry.MustRegister(m.adminActions)
	m.http = newSeries(func(k httpKey) httpSeries {
		status := strconv.Itoa(k.status)
		return httpSeries{m.requests.WithLabelValues(k.route, k.method, status), m.latency.WithLabelValues(k.route, k.method, status)}
	})
	m.redisLatency = newSeries(func(cmd string) prometheus.Observer { return m.redisLatencyVec.WithLabelValues(cmd) })
	m.dpopRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_dpop_proofs_rejected_total", Help: "DPoP proofs refused, by reason (missing, bad_signature, bad_htu, stale, replayed, key_mismatch, nonce_missing …).",
	}, []string{"reason"})
	m.Registry.MustRegister(m.dpopRejected)
	m.Registry.MustRegister(m.requests, m.latency, m.tokens, m.rejected, m.revoked, m.loginFailures, m.rateLimited,
		m.redisLatencyVec, m.redisErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.verify = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_verify_total", Help: "Forward-auth checks at /auth/verify, by outcome (allowed, unauthenticated, forbidden, unavailable, error).",
	}, []string{"outcome"})
	m.Registry.MustRegister(m.verify)

	m.passwordHash = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "password_hash_duration_seconds",
		Help:    "Time of one argon2id password hash (login, registration, password change), not counting the wait for a hashing slot.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1},
	})
	m.Registry.MustRegister(m.passwordHash)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Request records one HTTP request.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	s := m.http.get(httpKey{route, method, status})
	s.count.Inc()
	s.latency.Observe(d.Seconds())
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

// PasswordHashed records how long one password hash took.
func (m *Metrics) PasswordHashed(d time.Duration) { m.passwordHash.Observe(d.Seconds()) }

// LoginFailed counts a failed password check.
func (m *Metrics) LoginFailed() { m.loginFailures.Inc() }

// RateLimited counts a request refused by the limits.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// AdminAction counts one admin action (SPEC §10).
func (m *Metrics) AdminAction(action string) { m.adminActions.WithLabelValues(action).Inc() }

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
		h.m.redisLatency.get(name).Observe(time.Since(start).Seconds())
	}
	if err != nil && !errors.Is(err, redis.Nil) { // rare: looked up when it happens
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}

// Verified counts one /auth/verify answer by outcome.
func (m *Metrics) Verified(outcome string) { m.verify.WithLabelValues(outcome).Inc() }
