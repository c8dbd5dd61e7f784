package utils

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"go-jwt/global"
)

// Argon2Params are argon2id's cost parameters. They are written into every
// stored hash (PHC string format), so they can be raised later: a login with a
// hash made under older parameters re-hashes the password.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

const (
	saltLen = 16
	keyLen  = 32
)

var errHashFormat = errors.New("password hash: unknown format")

// Hasher hashes and verifies passwords with argon2id. Hashing is the
// expensive part of a login (tens of ms and Memory KiB each), so at most a
// fixed number run at once; a caller that cannot get a slot within wait gets
// global.ErrBusy (a 503), so a login flood cannot exhaust memory or starve the
// cheap token checks.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	wait   time.Duration
	// dummy is a hash under the current parameters that no password matches
	// in practice: unknown users are verified against it so they cost the same
	// time as a wrong password.
	dummy string
	// hashed, if set, is told how long each argon2id computation took (not
	// the wait for a slot): the password_hash_duration_seconds metric, which
	// go run ./bench compares logins with.
	hashed func(time.Duration)
}

// NewHasher returns a Hasher with params that runs at most concurrent hashes
// and waits at most wait for a slot, telling hashed (may be nil) how long
// each hash took.
func NewHasher(params Argon2Params, concurrent int, wait time.Duration, hashed func(time.Duration)) (*Hasher, error) {
	h := &Hasher{params: params, slots: make(chan struct{}, max(concurrent, 1)), wait: wait}
	pw := make([]byte, 32)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	var err error
	h.dummy, err = h.Hash(context.Background(), string(pw))
	h.hashed = hashed // after the dummy: only the hashes of requests count
	return h, err
}

// Hash returns the PHC-format argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := h.derive(ctx, password, salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	p := h.params
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, and whether encoded was
// made with other parameters than the current ones (so the caller should
// store a fresh hash). An empty encoded (unknown user) is checked against the
// dummy hash and never matches.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	unknown := encoded == ""
	if unknown {
		encoded = h.dummy
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, password, salt, p, uint32(len(want))) //nolint:gosec // decodeHash bounds it
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1 && !unknown
	return ok, ok && p != h.params, nil
}

func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Argon2Params, n uint32) ([]byte, error) {
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
	case <-timer.C:
		return nil, global.ErrBusy
	case <-ctx.Done():
		return nil, global.ErrBusy
	}
	defer func() { <-h.slots }()
	start := time.Now()
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, n)
	if h.hashed != nil {
		h.hashed(time.Since(start))
	}
	return key, nil
}

var b64 = base64.RawStdEncoding

func decodeHash(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errHashFormat
	}
	var v int
	if _, err = fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errHashFormat
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errHashFormat
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errHashFormat
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, errHashFormat
	}
	return p, salt, key, nil
}
