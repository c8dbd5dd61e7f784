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
	"go-jwt/utils/accounts"
	"go-jwt/utils/mfa"
	"go-jwt/utils/passkey"
)

// NewLogger returns a logger writing to w: JSON in release mode (for log
// collectors), text otherwise (for people). Run builds the service's own with
// its access log buffered.
func NewLogger(cfg global.Config, w io.Writer) *slog.Logger {
	return slog.New(middleware.NewLogHandler(cfg.Release, w, w))
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
	sessions := utils.NewSessions(ctx, rdb, cfg.MaxSessions, cfg.RefreshReuseGrace, cfg.SessionMaxAge, now)
	users, accts, hasher, err := Accounts(ctx, cfg, rdb, log, now, m.PasswordHashed)
	if err != nil {
		return nil, err
	}
	if cfg.DemoUser != "" {
		if err := ensureUser(ctx, users, accts, hasher, cfg.DemoUser, cfg.DemoPassword); err != nil {
			return nil, fmt.Errorf("DEMO_USER: %w", err)
		}
		log.Info("demo user ready", "user", cfg.DemoUser)
	}
	cookies := v1.Cookies{On: cfg.RefreshCookie, Release: cfg.Release, Origins: cfg.CORSOrigins}
	limiter := utils.NewLoginLimiter(rdb,
		utils.Limit{Rate: cfg.LoginUserRate, Burst: cfg.LoginUserBurst},
		utils.Limit{Rate: cfg.LoginIPRate, Burst: cfg.LoginIPBurst})
	sealer, err := mfa.NewSealer(cfg.DataKey)
	if err != nil {
		return nil, err
	}
	factors := mfa.NewStore(rdb, sealer, cfg.Issuer, now)
	passkeys := passkey.NewStore(rdb)
	rp, err := passkey.New(passkey.Config{RPID: cfg.WebAuthnRPID, RPName: cfg.WebAuthnRPName, Origins: cfg.WebAuthnOrigins},
		passkeys, now)
	if err != nil {
		return nil, fmt.Errorf("WEBAUTHN_RP_ID: %w", err)
	}
	dp, err := newDPoP(cfg, rdb, sessions, log, m, now)
	if err != nil {
		return nil, fmt.Errorf("DPOP: %w", err)
	}
	stepUp := v1.StepUp{TOTP: factors, Passkeys: passkeys}
	var introspect *v1.Introspect
	if len(cfg.IntrospectSecret) > 0 {
		introspect = &v1.Introspect{Tokens: tokens, Sessions: sessions, Secret: cfg.IntrospectSecret}
	}
	return routers.New(routers.Deps{
		Public: &v1.Public{Tokens: tokens, Sessions: sessions, Users: users, Accounts: accts, Hasher: hasher, Limiter: limiter, Events: m, Cookies: cookies,
			MFA: factors, DPoP: dp.public, Log: log, Now: now},
		User: &v1.User{Sessions: sessions, Users: users, Hasher: hasher, Limiter: limiter, Events: m, Cookies: cookies, Log: log},
		MFA: &v1.MFA{Factors: factors, Passkeys: passkeys, StepUp: stepUp, Sessions: sessions, Users: users, Hasher: hasher, Limiter: limiter,
			Events: m, Log: log},
		Health: &v1.Health{Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, Timeout: redisIOTimeout},
		Auth:   middleware.JWT(tokens, sessions, dp.auth),
		Quiet:  quietRoute,
		Log:    log,

		Admin:     &v1.Admin{Accounts: accts, Factors: mfa.NewLookup(rdb), Sessions: sessions, Hasher: hasher, Events: m, Log: log},
		AdminAuth: adminAuth(cfg),

		JWKS:           &v1.JWKS{Keys: keys.JWKS()},
		Introspect:     introspect,
		Metrics:        m,
		MetricsHandler: metricsOnMain(cfg, m),
		Registration:   cfg.Registration,
		CORSOrigins:    cfg.CORSOrigins,
		DemoPage:       cfg.DemoPage,
		TrustedProxies: cfg.TrustedProxies,

		Verify:     &v1.Verify{Events: m},
		VerifyAuth: middleware.JWTForwarded(tokens, sessions, dp.auth),
		Passkeys: &v1.Passkeys{Passkeys: rp, StepUp: stepUp, Users: users, Hasher: hasher, Limiter: limiter,
			Tokens: tokens, Sessions: sessions, Events: m, Cookies: cookies, DPoP: dp.public, Log: log, Now: now},
	})
}

// adminAuth is what the admin group needs after a valid access token: the
// admin role, and with ADMIN_MFA=on a second factor in the token's amr.
func adminAuth(cfg global.Config) []gin.HandlerFunc {
	h := []gin.HandlerFunc{middleware.RequireRole(global.RoleAdmin)}
	if cfg.AdminMFA {
		h = append(h, middleware.RequireSecondFactor())
	}
	return h
}

// metricsOnMain is the /metrics handler of the main router, or nil when
// METRICS_ADDR serves them elsewhere (so they need not be public).
func metricsOnMain(cfg global.Config, m *metrics.Metrics) http.Handler {
	if cfg.MetricsAddr != "" {
		return nil
	}
	return m.Handler()
}

// ensureUser creates the user unless it exists, with the default roles:
// start-up is idempotent and never overwrites a password the user has since
// changed.
func ensureUser(ctx context.Context, users *utils.Users, accts *accounts.Store, hasher *utils.Hasher, name, password string) error {
	if _, err := users.Account(ctx, name); !errors.Is(err, global.ErrUserNotFound) {
		return err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if _, err := accts.Create(ctx, name, hash, nil); err != nil && !errors.Is(err, global.ErrConflict) {
		return err
	}
	return nil
}

// Accounts builds what keeps the accounts on rdb (the user store, the
// account store of the admin API and the password hasher) exactly as both
// the server and the operator command line (package cli) use them. It first
// indexes the accounts stored before the user index existed.
func Accounts(ctx context.Context, cfg global.Config, rdb redis.UniversalClient, log *slog.Logger, now func() time.Time, hashed func(time.Duration)) (
	*utils.Users, *accounts.Store, *utils.Hasher, error) {
	users := utils.NewUsers(rdb, cfg.DefaultRoles)
	accts := accounts.New(rdb, users, cfg.DefaultRoles, now)
	accts.PurgeOnDelete(mfa.NewPurger(rdb), passkey.NewStore(rdb))
	hasher, err := utils.NewHasher(utils.Argon2Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads},
		cfg.HashConcurrent, cfg.HashWait, hashed)
	if err != nil {
		return nil, nil, nil, err
	}
	n, err := accts.Backfill(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("indexing the users (keys %s and %s; an ACL user needs ~%s ~%s, docs/SCALING.md): %w",
			global.KeyUserIndex, global.KeyAdmins, global.KeyUserIndex, global.KeyAdmins, err)
	}
	if n > 0 {
		log.Info("user index built", "users", n)
	}
	return users, accts, hasher, nil
}
