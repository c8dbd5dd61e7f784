package middleware

import (
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// Observer receives what Metrics sees of each request (*metrics.Metrics).
type Observer interface {
	Request(route, method string, status int, d time.Duration)
	Rejected(reason string)
	LoginFailed()
	RateLimited()
}

// Metrics records every request by route template (never the raw path,
// which would make one series per token or id) and classifies its failure:
// refused tokens by reason, failed password checks, rate-limit hits.
func Metrics(o Observer) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		o.Request(route, c.Request.Method, c.Writer.Status(), time.Since(start))
		last := c.Errors.Last()
		if last == nil {
			return
		}
		switch err := last.Err; {
		case errors.Is(err, global.ErrInvalidToken):
			o.Rejected(global.TokenReason(err))
		case errors.Is(err, global.ErrInvalidCredentials), errors.Is(err, global.ErrWrongPassword):
			o.LoginFailed()
		case errors.Is(err, global.ErrRateLimited):
			o.RateLimited()
		}
	}
}
