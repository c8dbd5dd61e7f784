package middleware

import (
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// Observer receives what AccessLog sees of each request (*metrics.Metrics).
type Observer interface {
	Request(route, method string, status int, d time.Duration)
	Rejected(reason string)
	LoginFailed()
	RateLimited()
}

// observe records one finished request by route template (never the raw
// path, which would make one series per token or id) and classifies its
// failure (last, the request's last error, or nil): refused tokens by
// reason, failed password checks, rate-limit hits.
func observe(o Observer, e *accessEntry, last *gin.Error) {
	o.Request(e.route, e.method, e.status, e.latency)
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
