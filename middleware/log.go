package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/response"
)

// requestIDPattern is what an incoming X-Request-ID must look like to be
// kept; anything else is replaced, so a client cannot inject into the logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID gives every request an id (the caller's X-Request-ID if it looks
// sane), returned in X-Request-ID and written to every log line.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(global.CtxRequestID, id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

// AccessLog writes one line per request: method, route template, status,
// latency, client IP, request id and, for failures, the reason. It never
// logs headers, the query string or bodies: they may hold tokens and
// passwords.
func AccessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("latency", time.Since(start)),
			slog.String("ip", c.ClientIP()),
			slog.String("request_id", c.GetString(global.CtxRequestID)),
		}
		if err := c.Errors.Last(); err != nil {
			attrs = append(attrs, slog.String("reason", err.Err.Error()))
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// Recovery turns a panic into a 500 JSON answer and a log line with the
// stack. Unlike gin's own recovery it never dumps the request (headers hold
// tokens and cookies).
func Recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", c.GetString(global.CtxRequestID), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				response.Error(c, fmt.Errorf("panic: %v", p))
			}
		}()
		c.Next()
	}
}

// BodyLimit caps the request body at n bytes: a larger declared length is
// refused at once with 413, and a body that grows past n while being read
// fails the read (handlers turn that into 413).
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			response.Error(c, global.ErrBodyTooLarge)
			return
		}
		// net/http's own writer, not gin's wrapper: told that the limit was
		// hit, the server answers at once and closes the connection, instead
		// of first waiting for up to 256 KiB more of the body to keep it.
		var w http.ResponseWriter = c.Writer
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			w = u.Unwrap()
		}
		c.Request.Body = http.MaxBytesReader(w, c.Request.Body, n)
		c.Next()
	}
}
