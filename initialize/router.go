package initialize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis/v8"

	v1 "go-jwt/api/v1"
	"go-jwt/global"
	"go-jwt/metrics"
	"go-jwt/middleware"
	"go-jwt/routers"
	"go-jwt/utils"
)

// NewLogger returns the service's logger: JSON in release mode (for log
// collectors), text otherwise (for people).
func NewLogger(cfg global.Config, w io.Writer) *slog.Logger {
	if cfg.Release {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// Router builds the token codec, the stores and the handlers on rdb and
// returns the assembled router: the one production serves and tests drive.
// m receives the metrics (served at /metrics unless METRICS_ADDR moves
// them) and now is the clock. It also creates the demo user if one is
// configured.
func Router(ctx context.Context, cfg global.Config, rdb redis.UniversalClient, log *slog.Logger, m *metrics.Metrics, now func() time.Time) (*gin.Engine, error) {
	keys := utils.NewHMACKeys(cfg.JWTSecret)
	if cfg.JWTAlg != "" && cfg.JWTAlg != utils.AlgHS256 {
		var err error
		if keys, err = utils.NewKeys(cfg.JWTAlg, cfg.JWTSigningKey, cfg.JWTVerifyKeys...); err != nil {
			return nil, fmt.Errorf("JWT_PRIVATE_KEY: %w", err)
		}
	}
	tokens := utils.NewJWTWithKeys(keys, cfg.Issuer, cfg.AccessTTL, cfg.RefreshTTL, cfg.SessionMaxAge, now)
	sessions := utils.NewSessions(ctx, rdb, cfg.MaxSessions, cfg.RefreshReuseGrace, now)
	users := utils.NewUsers(rdb)
	hasher, err := utils.NewHasher(utils.Argon2Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads},
		cfg.HashConcurrent, cfg.HashWait)
	if err != nil {
		return nil, err
	}
	if cfg.DemoUser != "" {
		if err := ensureUser(ctx, users, hasher, cfg.DemoUser, cfg.DemoPassword, now()); err != nil {
			return nil, fmt.Errorf("DEMO_USER: %w", err)
		}
		log.Info("demo user ready", "user", cfg.DemoUser)
	}
	cookies := v1.Cookies{On: cfg.RefreshCookie, Release: cfg.Release, Origins: cfg.CORSOrigins}
	limiter := utils.NewLoginLimiter(rdb,
		utils.Limit{Rate: cfg.LoginUserRate, Burst: cfg.LoginUserBurst},
		utils.Limit{Rate: cfg.LoginIPRate, Burst: cfg.LoginIPBurst})
	dp, err := newDPoP(cfg, rdb, sessions, log, m, now)
	if err != nil {
		return nil, fmt.Errorf("DPOP: %w", err)
	}
	var introspect *v1.Introspect
	if len(cfg.IntrospectSecret) > 0 {
		introspect = &v1.Introspect{Tokens: tokens, Sessions: sessions, Secret: cfg.IntrospectSecret}
	}
	return routers.New(routers.Deps{
		Public: &v1.Public{Tokens: tokens, Sessions: sessions, Users: users, Hasher: hasher, Limiter: limiter, Events: m, Cookies: cookies, DPoP: dp.public, Log: log, Now: now},
		User:   &v1.User{Sessions: sessions, Users: users, Hasher: hasher, Limiter: limiter, Events: m, Cookies: cookies, Log: log},
		Health: &v1.Health{Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, Timeout: redisIOTimeout},
		Auth:   middleware.JWT(tokens, sessions, dp.auth),
		Log:    log,

		JWKS:           &v1.JWKS{Keys: keys.JWKS()},
		Introspect:     introspect,
		Metrics:        m,
		MetricsHandler: metricsOnMain(cfg, m),
		Registration:   cfg.Registration,
		CORSOrigins:    cfg.CORSOrigins,
		DemoPage:       cfg.DemoPage,
		TrustedProxies: cfg.TrustedProxies,
	})
}

// metricsOnMain is the /metrics handler of the main router, or nil when
// METRICS_ADDR serves them elsewhere (so they need not be public).
func metricsOnMain(cfg global.Config, m *metrics.Metrics) http.Handler {
	if cfg.MetricsAddr != "" {
		return nil
	}
	return m.Handler()
}

// ensureUser creates the user unless it exists: start-up is idempotent and
// never overwrites a password the user has since changed.
func ensureUser(ctx context.Context, users *utils.Users, hasher *utils.Hasher, name, password string, now time.Time) error {
	if _, err := users.PasswordHash(ctx, name); !errors.Is(err, global.ErrUserNotFound) {
		return err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if err := users.Create(ctx, name, hash, now); err != nil && !errors.Is(err, global.ErrConflict) {
		return err
	}
	return nil
}
