package v1

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
)

// Health serves the operations probes.
type Health struct {
	// Ping asks Redis whether it answers.
	Ping func(ctx context.Context) error
	// Timeout bounds the readiness check.
	Timeout time.Duration
}

// Live answers 200 while the process is up (GET /healthz).
func (h *Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when Redis answers within Timeout, else 503
// (GET /readyz): a load balancer then sends traffic elsewhere.
func (h *Health) Ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), h.Timeout)
	defer cancel()
	if err := h.Ping(ctx); err != nil {
		response.Error(c, fmt.Errorf("%w: %v", global.ErrStoreUnavailable, err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
