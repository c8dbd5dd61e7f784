package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
)

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
				log.Error("panic", "request_id", response.RequestID(c), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
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
		if c.Request.Body == http.NoBody { // nothing to read (most GETs): nothing to wrap
			c.Next()
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
