// Package routers assembles the Gin engine: the public group (no token),
// the private group, every route of which sits behind the JWT middleware,
// and the admin group, behind the JWT middleware and the admin role.
package routers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	v1 "go-jwt/api/v1"
	"go-jwt/docs"
	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
	"go-jwt/web"
)

// BodyLimit is the largest request body the API reads: credentials and
// tokens are small, and a big body must not cost memory.
const BodyLimit = 8 << 10

// Deps is what the router needs, built by initialize.
type Deps struct {
	Public *v1.Public
	User   *v1.User
	Health *v1.Health
	// JWKS publishes the token verification keys.
	JWKS *v1.JWKS
	// Introspect, when not nil (INTROSPECT_SECRET set), serves POST
	// /public/introspect; nil, it is a 404.
	Introspect *v1.Introspect
	// MFA serves the signed-in user's second-factor routes (/user/mfa/...).
	MFA *v1.MFA
	// Auth guards the private group (middleware.JWT).
	Auth gin.HandlerFunc
	// Quiet comes first on the routes that only read (welcome, me,
	// sessions, /auth/verify …): their request is not canceled when its
	// client goes away, which spares it net/http's watch of the connection
	// (initialize/quietconn.go). nil: no route is quiet.
	Quiet gin.HandlerFunc
	Log   *slog.Logger
	// Metrics observes every request; MetricsHandler, when not nil, is
	// served at GET /metrics (nil: metrics live on their own address).
	Metrics        middleware.Observer
	MetricsHandler http.Handler
	// Registration enables POST /public/register; off, it is a 404.
	Registration bool
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// DemoPage serves the demo front end (package web) at /.
	DemoPage bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// empty: none, the peer address is the client.
	TrustedProxies []string

	// Admin serves the /admin group, guarded by Auth and then AdminAuth
	// (middleware.RequireRole admin and, with ADMIN_MFA=on,
	// middleware.RequireSecondFactor), in order.
	Admin     *v1.Admin
	AdminAuth []gin.HandlerFunc

	// Verify serves /auth/verify (gateway mode, SPEC §13) behind
	// VerifyAuth (middleware.JWTForwarded: Auth whose DPoP proofs name the
	// proxied request).
	Verify     *v1.Verify
	VerifyAuth gin.HandlerFunc

	// Passkeys serves registration, list and delete of passkeys (private)
	// and the usernameless passkey sign-in (public), SPEC §12.
	Passkeys *v1.Passkeys
}

// verifyMethods are the methods /auth/verify answers: a proxy may ask with
// the client's own method. Every method gin routes but CONNECT, which no
// proxy sends for a subrequest and OpenAPI cannot describe.
var verifyMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// New returns the engine with every route.
func New(d Deps) (*gin.Engine, error) {
	r := gin.New()
	// An unknown path is a JSON 404 like every error, not an HTML redirect.
	r.RedirectTrailingSlash = false
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(middleware.RequestID(), middleware.AccessLog(d.Log, len(d.TrustedProxies) > 0, d.Metrics), middleware.Recovery(d.Log))
	if len(d.CORSOrigins) > 0 {
		r.Use(middleware.CORS(d.CORSOrigins))
	}
	r.NoRoute(func(c *gin.Context) { response.Error(c, global.ErrNotFound) })

	r.GET("/healthz", d.Health.Live)
	r.GET("/readyz", d.Health.Ready)
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", docs.OpenAPI) })
	r.GET("/.well-known/jwks.json", d.JWKS.Serve)
	if d.DemoPage {
		demoPage(r)
	}
	if d.MetricsHandler != nil {
		r.GET("/metrics", gin.WrapH(d.MetricsHandler))
	}

	public := r.Group("/public", middleware.BodyLimit(BodyLimit))
	{
		public.GET("/ping", d.Public.Ping)
		public.POST("/login", d.Public.Login)
		public.POST("/login/mfa", d.Public.LoginMFA)
		public.GET("/refresh", d.Public.Refresh)
		public.POST("/refresh", d.Public.Refresh)
		if d.Registration {
			public.POST("/register", d.Public.Register)
		}
		if d.Introspect != nil {
			public.POST("/introspect", d.Introspect.Introspect)
		}
		public.POST("/passkeys/login/begin", d.Passkeys.LoginBegin)
		public.POST("/passkeys/login/finish", d.Passkeys.LoginFinish)
	}

	quiet := func(h ...gin.HandlerFunc) []gin.HandlerFunc {
		if d.Quiet == nil {
			return h
		}
		return append([]gin.HandlerFunc{d.Quiet}, h...)
	}
	// The private routes that only read: the same guard, quiet.
	reads := r.Group("/user", quiet(middleware.BodyLimit(BodyLimit), d.Auth)...)
	{
		reads.GET("/welcome", d.User.Welcome)
		reads.GET("/sessions", d.User.ListSessions)
		reads.GET("/me", d.User.Me)
		reads.GET("/passkeys", d.Passkeys.List)
		reads.GET("/mfa", d.MFA.Status)
	}
	private := r.Group("/user", middleware.BodyLimit(BodyLimit), d.Auth)
	{
		private.GET("/logout", d.User.Logout)
		private.POST("/logout", d.User.Logout)
		private.POST("/logout-all", d.User.LogoutAll)
		private.DELETE("/sessions/:id", d.User.RevokeSession)
		private.POST("/password", d.User.Password)

		private.POST("/passkeys/register/begin", d.Passkeys.RegisterBegin)
		private.POST("/passkeys/register/finish", d.Passkeys.RegisterFinish)
		private.DELETE("/passkeys/:id", d.Passkeys.Delete)

		// Second factor (SPEC §11).
		private.POST("/mfa/totp/enroll", d.MFA.Enroll)
		private.POST("/mfa/totp/confirm", d.MFA.Confirm)
		private.DELETE("/mfa/totp", d.MFA.Disable)
		private.POST("/mfa/recovery-codes", d.MFA.RecoveryCodes)
	}

	// Administration (SPEC §10): a valid access token, then the admin role.
	admin := r.Group("/admin", append([]gin.HandlerFunc{middleware.BodyLimit(BodyLimit), d.Auth}, d.AdminAuth...)...)
	{
		admin.GET("/users", d.Admin.ListUsers)
		admin.POST("/users", d.Admin.CreateUser)
		admin.GET("/users/:name", d.Admin.GetUser)
		admin.PUT("/users/:name/roles", d.Admin.SetRoles)
		admin.POST("/users/:name/lock", d.Admin.Lock)
		admin.POST("/users/:name/unlock", d.Admin.Unlock)
		admin.POST("/users/:name/password", d.Admin.Password)
		admin.POST("/users/:name/logout-all", d.Admin.LogoutAll)
		admin.DELETE("/users/:name", d.Admin.Delete)
	}

	// Gateway mode: a reverse proxy asks before passing a request on. The
	// private group's checks (Auth), counted and never cached (Observe).
	gateway := r.Group("/auth", quiet(d.Verify.Observe, middleware.BodyLimit(BodyLimit), d.VerifyAuth)...)
	for _, m := range verifyMethods {
		gateway.Handle(m, "/verify", d.Verify.Allow)
	}
	return r, nil
}

// demoPage serves the embedded demo front end. Its policy lets the page talk
// only to this origin and keeps it out of frames (clickjacking).
func demoPage(r *gin.Engine) {
	for path, file := range map[string]string{"/": "index.html", "/app.js": "app.js", "/dpop.js": "dpop.js", "/mfa.js": "mfa.js", "/passkeys.js": "passkeys.js", "/style.css": "style.css"} {
		r.GET(path, func(c *gin.Context) {
			c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
			c.Header("X-Content-Type-Options", "nosniff")
			http.ServeFileFS(c.Writer, c.Request, web.FS, file)
		})
	}
}
