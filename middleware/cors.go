package middleware

import (
	"slices"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"
)

// CORS lets the listed origins call the API from a browser, with
// credentials (the refresh cookie); ["*"] lets any origin in, without
// credentials (initialize refuses "*" together with cookie mode). A request
// from an origin not listed gets no CORS headers, so the browser keeps its
// answer from the page, but it is otherwise served as usual (gin-contrib/cors
// alone would answer it 403 with an empty body, and every error here is
// JSON).
func CORS(origins []string) gin.HandlerFunc {
	cfg := cors.Config{
		AllowMethods:  []string{"GET", "POST", "PUT", "DELETE"}, // PUT: /admin/users/:name/roles
		AllowHeaders:  []string{"Authorization", "Content-Type", "X-Requested-With", "DPoP"},
		ExposeHeaders: []string{"Retry-After", "X-Request-ID", "WWW-Authenticate", "DPoP-Nonce"},
		MaxAge:        10 * time.Minute,
	}
	if slices.Equal(origins, []string{"*"}) {
		cfg.AllowAllOrigins = true
	} else {
		cfg.AllowOrigins = origins
		cfg.AllowCredentials = true
	}
	handle := cors.New(cfg)
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && !cfg.AllowAllOrigins && !slices.Contains(origins, origin) {
			c.Next()
			return
		}
		handle(c)
	}
}
