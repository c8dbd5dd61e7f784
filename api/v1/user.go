package v1

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/response"
)

// User serves the private routes; middleware.JWT has verified the access
// token before any of these runs.
type User struct {
	Sessions SessionStore
	Users    UserStore
	Hasher   PasswordHasher
	Log      *slog.Logger
}

// Welcome greets the signed-in user.
func (h *User) Welcome(c *gin.Context) {
	c.String(http.StatusOK, "Welcome ! %s", middleware.Claims(c).Username)
}

// Logout ends the caller's session: its access and refresh token stop
// working together, at once.
func (h *User) Logout(c *gin.Context) {
	claims := middleware.Claims(c)
	if _, err := h.Sessions.Revoke(c.Request.Context(), claims.Username, claims.SessionID); err != nil {
		response.Error(c, err)
		return
	}
	h.Log.Info("session revoked", "user", claims.Username, "sid", claims.SessionID, "by", "logout",
		"request_id", c.GetString(global.CtxRequestID))
	c.String(http.StatusOK, "Logout success")
}
