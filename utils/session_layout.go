package utils

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"

	"github.com/google/uuid"

	"go-jwt/global"
)

// The layout of a session in Redis (README, "Redis data"). Its key is
// global.KeySession+"{user}:"+the 16 raw bytes of the session id, and the
// user's index field is indexPrefix+the same 16 bytes: binary, because at
// a hundred thousand sessions every byte of a key is paid for several times
// (the key, the index field, Redis's allocator rounding both up).
//
// The value, packed:
//
//	bytes  1-16  access token jti (raw UUID)
//	      17-32  refresh token jti
//	      33-48  previous refresh jti (zeros until the first rotation)
//	      49-61  when that one was rotated away, unix ms, 13 digits (the
//	             rotation script does arithmetic on it)
//	      62-65  created, unix s, 4 bytes big-endian
//	      66-69  last refreshed, unix s, 4 bytes big-endian
//	      70-77  User-Agent: the first 8 bytes of its SHA-256 (zeros: none);
//	             its text is kept once for every session that shares it,
//	             at global.KeyUserAgent+hex of those 8 bytes (useragent.go)
//	      78-    client IP, as text, "\n", amr
//	  last 44    bound sessions only: "\x00" and the DPoP key's thumbprint
//	             (43 characters; bound.go). IP and amr hold no NUL, so the
//	             suffix is known by its first byte.
//
// amr is the session's authentication methods joined by commas ("pwd",
// "pwd,otp", "hwk"), after the IP (which holds no newline): refresh
// re-issues them. A value without the newline reads as no amr.
const (
	jtiLen      = 16
	rotatedAt   = 48 // offset of the rotation time
	createdAt   = 61
	refreshedAt = 65
	uaAt        = 69
	uaHashLen   = 8
	headerLen   = uaAt + uaHashLen // up to the client IP
	indexPrefix = "s:"
)

func sessionPrefix(user string) string { return global.KeySession + "{" + user + "}:" }

// sessionKey is the key of the session whose raw id is sid.
func sessionKey(user, sid string) string { return sessionPrefix(user) + sid }

// rawID is the 16 bytes of a UUID-shaped token or session id.
func rawID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil { // the nil UUID marks a cut access token (Users.Update)
		return "", global.ErrTokenClaims
	}
	return string(u[:]), nil
}

// sessionID is the UUID text of a raw session id ("" if it is not one).
func sessionID(raw string) string {
	u, err := uuid.FromBytes([]byte(raw))
	if err != nil {
		return ""
	}
	return u.String()
}

// millis13 is t's unix millisecond in 13 digits, zero-padded (until 2286):
// the rotation script compares such numbers.
func millis13(t time.Time) string {
	var b [13]byte
	ms := t.UnixMilli()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + ms%10)
		ms /= 10
	}
	return string(b[:])
}

// unixBytes is t's unix second as 4 bytes big-endian (good until 2106).
func unixBytes(t time.Time) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(t.Unix())) //nolint:gosec // until 2106
	return string(b[:])
}

// userAgentHash is the stored hash of ua ("" and zeros for none) and ua as
// stored: cut at maxUserAgent, newlines made spaces and NULs dropped (HTTP
// forbids both in a header value anyway).
func userAgentHash(ua string) (hash, stored string) {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	ua = strings.ReplaceAll(strings.ReplaceAll(ua, "\n", " "), "\x00", "")
	if ua == "" {
		return strings.Repeat("\x00", uaHashLen), ""
	}
	sum := sha256.Sum256([]byte(ua))
	return string(sum[:uaHashLen]), ua
}

// pack builds a new session's value.
func pack(access, refresh string, now time.Time, uaHash, ip string, amr []string) string {
	t := tail(ip, amr)
	var b strings.Builder
	b.Grow(headerLen + len(t))
	b.WriteString(access)
	b.WriteString(refresh)
	b.WriteString(strings.Repeat("\x00", jtiLen))
	b.WriteString("0000000000000")
	b.WriteString(unixBytes(now))
	b.WriteString(unixBytes(now))
	b.WriteString(uaHash)
	b.WriteString(t)
	return b.String()
}

// tail is the variable end of a value: the client IP and the amr.
func tail(ip string, amr []string) string { return ip + "\n" + packAMR(amr) }

// packAMR joins amr for the session value. The methods are the service's
// own constants (global.AMR*) from signed claims, never client text; one
// holding a comma or a newline could not be read back, and is left out.
func packAMR(amr []string) string {
	keep := make([]string, 0, len(amr))
	for _, m := range amr {
		if m != "" && !strings.ContainsAny(m, ",\n") {
			keep = append(keep, m)
		}
	}
	return strings.Join(keep, ",")
}

// unpackAMR reads what packAMR wrote; never nil, so the JSON is a list.
func unpackAMR(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// unpack reads a session's value; its User-Agent comes back as its hash
// (uaHash), for the caller to look up.
func unpack(id, v string) (s Session, uaHash string, ok bool) {
	v, _ = unbind(v)
	if len(v) < headerLen {
		return Session{}, "", false
	}
	c := binary.BigEndian.Uint32([]byte(v[createdAt:refreshedAt]))
	u := binary.BigEndian.Uint32([]byte(v[refreshedAt:uaAt]))
	ip, amr, _ := strings.Cut(v[headerLen:], "\n")
	return Session{ID: id, CreatedAt: time.Unix(int64(c), 0).UTC(), RefreshedAt: time.Unix(int64(u), 0).UTC(), IP: ip,
		AMR: unpackAMR(amr)}, v[uaAt:headerLen], true
}
