// Package routers assembles the Gin engine: the public group (no token) and
// the private group, every route of which sits behind the JWT middleware.
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
	// Auth guards the private group (middleware.JWT).
	Auth gin.HandlerFunc
	Log  *slog.Logger
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
}

// New returns the engine with every route.
func New(d Deps) (*gin.Engine, error) {
	r := gin.New()
	// An unknown path is a JSON 404 like every error, not an HTML redirect.
	r.RedirectTrailingSlash = false
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(middleware.RequestID(), middleware.AccessLog(d.Log), middleware.Metrics(d.Metrics), middleware.Recovery(d.Log))
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
		public.GET("/refresh", d.Public.Refresh)
		public.POST("/refresh", d.Public.Refresh)
		if d.Registration {
			public.POST("/register", d.Public.Register)
		}
		if d.Introspect != nil {
			public.POST("/introspect", d.Introspect.Introspect)
		}
	}

	private := r.Group("/user", middleware.BodyLimit(BodyLimit), d.Auth)
	{
		private.GET("/welcome", d.User.Welcome)
		private.GET("/logout", d.User.Logout)
		private.POST("/logout", d.User.Logout)
		private.POST("/logout-all", d.User.LogoutAll)
		private.GET("/sessions", d.User.ListSessions)
		private.DELETE("/sessions/:id", d.User.RevokeSession)
		private.POST("/password", d.User.Password)
		private.GET("/me", d.User.Me)
	}
	return r, nil
}

// demoPage serves the embedded demo front end. Its policy lets the page talk
// only to this origin and keeps it out of frames (clickjacking).
func demoPage(r *gin.Engine) {
	for path, file := range map[string]string{"/": "index.html", "/app.js": "app.js", "/dpop.js": "dpop.js", "/style.css": "style.css"} {
		r.GET(path, func(c *gin.Context) {
			c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
			c.Header("X-Content-Type-Options", "nosniff")
			http.ServeFileFS(c.Writer, c.Request, web.FS, file)
		})
	}
}
