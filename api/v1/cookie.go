package v1

import (
	"net"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// RefreshCookieName is the cookie that carries the refresh token in cookie
// mode. Its path is /public, so it travels only to the refresh route (and
// the other public routes), never to the private ones.
const RefreshCookieName = "go_jwt_refresh"

// Cookies is the browser mode of the refresh token (REFRESH_COOKIE=on):
// login and refresh also set it as an HttpOnly cookie, which page scripts
// cannot read, and refresh accepts it from there. Off, nothing here acts.
type Cookies struct {
	On bool
	// Release forbids the one relaxation: outside release mode, a cookie
	// for a loopback host over plain http is sent without Secure.
	Release bool
	// Origins are the allowed cross-origin pages (CORS_ORIGINS).
	Origins []string
}

// set hands the refresh token out as the cookie, living as long as it.
func (k Cookies) set(c *gin.Context, token string, maxAge int64) {
	if !k.On {
		return
	}
	http.SetCookie(c.Writer, k.cookie(c, token, int(maxAge)))
}

// clear removes the cookie (logout, or a refresh token that failed).
func (k Cookies) clear(c *gin.Context) {
	if !k.On {
		return
	}
	http.SetCookie(c.Writer, k.cookie(c, "", -1))
}

func (k Cookies) cookie(c *gin.Context, value string, maxAge int) *http.Cookie {
	// Secure is off only for plain-http loopback outside release mode (a
	// developer's own machine); HttpOnly and SameSite=Strict always hold.
	return &http.Cookie{ //nolint:gosec // G124: see above
		Name: RefreshCookieName, Value: value, Path: "/public", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: k.Release || c.Request.TLS != nil || !loopbackHost(c.Request.Host),
	}
}

// token returns the refresh token from the cookie, "" when there is none. A
// cookie is sent by the browser whoever asks, so its use needs proof that the
// request came from an allowed page: a custom header, which a cross-site form
// or image cannot send, and, when the browser names the Origin, an allowed one.
func (k Cookies) token(c *gin.Context) (string, error) {
	if !k.On {
		return "", nil
	}
	v, err := c.Cookie(RefreshCookieName)
	if err != nil || v == "" {
		return "", nil
	}
	if c.GetHeader("X-Requested-With") == "" {
		return "", global.ErrCrossSite
	}
	if origin := c.GetHeader("Origin"); origin != "" && !k.allowed(c, origin) {
		return "", global.ErrCrossSite
	}
	return v, nil
}

func (k Cookies) allowed(c *gin.Context, origin string) bool {
	return origin == "http://"+c.Request.Host || origin == "https://"+c.Request.Host || slices.Contains(k.Origins, origin)
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
