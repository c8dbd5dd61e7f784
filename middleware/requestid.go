package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// requestIDHeader is X-Request-ID in the canonical form net/http keys
// headers by, so it is looked up and set without canonicalising per request.
const requestIDHeader = "X-Request-Id"

// maxRequestID is the longest incoming X-Request-ID kept.
const maxRequestID = 64

// RequestID gives every request an id (the caller's X-Request-ID if it looks
// sane: 1-64 of A-Z a-z 0-9 . _ -), returned in X-Request-ID and written to
// every log line. A new id is this process's random prefix and a counter
// (see IDs): unique without a crypto/rand read per request.
//
// It is the outermost middleware, so it also lends the request its
// c.Keys map (what c.Set fills: the request id, the claims) from a pool and
// takes it back when the request is done: gin makes a new map per request,
// and that map was a tenth of a private request's allocated bytes.
func RequestID() gin.HandlerFunc {
	ids := NewIDs()
	return func(c *gin.Context) {
		var id string
		if v := c.Request.Header[requestIDHeader]; len(v) > 0 && saneRequestID(v[0]) {
			id = v[0]
		} else {
			id = ids.Next()
		}
		keys := keysPool.Get().(map[any]any)
		c.Keys = keys
		c.Set(global.CtxRequestID, id)
		c.Writer.Header()[requestIDHeader] = []string{id}
		c.Next()
		// Nothing holds c past here: no handler keeps the context or
		// hands it to a goroutine (c.Copy would copy the map).
		c.Keys = nil
		clear(keys)
		keysPool.Put(keys)
	}
}

var keysPool = sync.Pool{New: func() any { return make(map[any]any, 4) }}

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
