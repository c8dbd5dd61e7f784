package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// NonceWindow is how long one server nonce is handed out; a nonce is
// accepted in its window and the next, so for 5 to 10 minutes.
const NonceWindow = 5 * time.Minute

// nonceMACLen is how much of the HMAC a nonce carries: 128 bits.
const nonceMACLen = 16

// Nonces makes and checks server nonces (RFC 9449 §8) without state: a
// nonce is the number of its time window and an HMAC of that number, so
// any instance holding the same key accepts the nonces of any other, and
// nothing is stored.
type Nonces struct {
	key []byte
	now func() time.Time
}

// NewNonces returns nonces keyed with key (NonceKey) on the clock now.
func NewNonces(key []byte, now func() time.Time) *Nonces {
	return &Nonces{key: key, now: now}
}

// NonceKey derives the nonce key from a configured secret, so that the
// secret itself is never what the nonces are computed with.
func NonceKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("go-jwt dpop nonce key v1"))
	return m.Sum(nil)
}

func (n *Nonces) window() int64 { return n.now().Unix() / int64(NonceWindow/time.Second) }

// Current is the nonce of the current window.
func (n *Nonces) Current() string { return n.of(n.window()) }

func (n *Nonces) of(window int64) string {
	b := make([]byte, 8, 8+sha256.Size)
	binary.BigEndian.PutUint64(b, uint64(window)) //nolint:gosec // a window number, never negative after 1970
	m := hmac.New(sha256.New, n.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:8+nonceMACLen])
}

// Valid reports whether s is the nonce of the current or the previous
// window.
func (n *Nonces) Valid(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(8+nonceMACLen) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	w, cur := int64(binary.BigEndian.Uint64(raw[:8])), n.window() //nolint:gosec // compared, not used as a size
	if w != cur && w != cur-1 {
		return false
	}
	return hmac.Equal([]byte(n.of(w)), []byte(s))
}
