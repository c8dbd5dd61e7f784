package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"go-jwt/response"
)

// maxRequestID is the longest incoming X-Request-ID kept.
const maxRequestID = 64

// RequestID gives every request an id (the caller's X-Request-ID if it looks
// sane: 1-64 of A-Z a-z 0-9 . _ -), returned in X-Request-ID and written to
// every log line. A new id is this process's random prefix and a counter
// (see IDs): unique without a crypto/rand read per request, and without an
// allocation (neither is a caller's id copied). The answer's
// header is the one place it is kept: response.RequestID reads it there.
func RequestID() gin.HandlerFunc {
	ids := NewIDs()
	return func(c *gin.Context) {
		v := c.Request.Header[response.RequestIDHeader]
		if len(v) > 0 && saneRequestID(v[0]) {
			v = v[:1:1] // the caller's own, shared with the request (which nothing changes)
		} else {
			v = ids.Value()
		}
		c.Writer.Header()[response.RequestIDHeader] = v
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
//
// Ids are minted in blocks (idBlock): a block takes idsPerBlock counter
// values with one atomic add and holds them formatted in one string, cut
// into the answer header's values, so a request's id costs no allocation
// and no contended atomic. Blocks wait in a sync.Pool (one per processor,
// mostly): one the pool drops in a collection leaves its unused counter
// values unused, so ids are unique but not gapless.
type IDs struct {
	prefix [17]byte
	n      atomic.Uint64
	blocks sync.Pool // *idBlock
}

// idsPerBlock is how many ids a block holds.
const idsPerBlock = 64

// idBlock is ids minted together: vals[i] is one id (a substring of the one
// string they were formatted into), handed out as vals[i:i+1:i+1], the
// value of an X-Request-ID header; next is the first not handed out yet.
type idBlock struct {
	vals []string
	next int
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

// Value returns a new id as a header value: a slice of one string, whose
// capacity is one (an append copies it, never touching the next id).
func (s *IDs) Value() []string {
	b, _ := s.blocks.Get().(*idBlock)
	if b == nil || b.next == len(b.vals) {
		b = s.mint()
	}
	i := b.next
	b.next++
	v := b.vals[i : i+1 : i+1]
	s.blocks.Put(b)
	return v
}

// mint formats the next idsPerBlock ids into a new block: the first
// counter value in hex, then each next one by counting up its digits.
func (s *IDs) mint() *idBlock {
	first := s.n.Add(idsPerBlock) - idsPerBlock + 1
	buf := make([]byte, 0, idsPerBlock*(len(s.prefix)+16))
	var ends [idsPerBlock]int
	digits := strconv.AppendUint(make([]byte, 0, 16), first, 16)
	for i := range idsPerBlock {
		buf = append(buf, s.prefix[:]...)
		buf = append(buf, digits...)
		ends[i] = len(buf)
		digits = nextHex(digits)
	}
	all := string(buf)
	b := &idBlock{vals: make([]string, idsPerBlock)}
	start := 0
	for i, end := range ends {
		b.vals[i] = all[start:end]
		start = end
	}
	return b
}

// nextHex returns the lower-case hex number d plus one (d changed in place
// but for a carry out of its first digit).
func nextHex(d []byte) []byte {
	for i := len(d) - 1; i >= 0; i-- {
		switch d[i] {
		case 'f':
			d[i] = '0'
			continue
		case '9':
			d[i] = 'a'
		default:
			d[i]++
		}
		return d
	}
	return append([]byte{'1'}, d...)
}
