package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"go-jwt/response"
)

// maxRequestID is the longest incoming X-Request-ID kept.
const maxRequestID = 64

// RequestID gives every request an id (the caller's X-Request-ID if it looks
// sane: 1-64 of A-Z a-z 0-9 . _ -), returned in X-Request-ID and written to
// every log line. A new id is this process's random prefix and a counter
// (see IDs): unique without a crypto/rand read per request. The answer's
// header is the one place it is kept: response.RequestID reads it there.
func RequestID() gin.HandlerFunc {
	ids := NewIDs()
	return func(c *gin.Context) {
		var id string
		if v := c.Request.Header[response.RequestIDHeader]; len(v) > 0 && saneRequestID(v[0]) {
			id = v[0]
		} else {
			id = ids.Next()
		}
		c.Writer.Header()[response.RequestIDHeader] = []string{id}
		c.Next()
	}
}

// saneRequestID reports whether an incoming id may be kept: anything else is
// replaced, so a client cannot inject into the logs.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// IDs makes request ids: 16 hex digits of randomness drawn once, a '-',
// and a counter in hex ("5f0c2a9be13d4786-1a"). The random prefix (64 bits)
// keeps ids of different processes, instances and restarts apart; the
// counter keeps those of one process apart.
type IDs struct {
	prefix [17]byte
	n      atomic.Uint64
}

// NewIDs returns an id source with a fresh random prefix.
func NewIDs() *IDs {
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	s := &IDs{}
	hex.Encode(s.prefix[:16], raw[:])
	s.prefix[16] = '-'
	return s
}

// Next returns a new id.
func (s *IDs) Next() string {
	var b [17 + 16]byte
	copy(b[:], s.prefix[:])
	return string(strconv.AppendUint(b[:17], s.n.Add(1), 16))
}
