package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"

	"go-jwt/global"
)

// MinDataKeyLen is the shortest DATA_KEY accepted: HKDF turns it into the
// AES-256 key, and it must hold at least as much entropy as that key.
const MinDataKeyLen = 32

// sealVersion starts every sealed value, so a later format (another
// cipher, a rotated key) can be told apart from this one.
const sealVersion = 1

// hkdfInfo binds the derived key to its one purpose: the same DATA_KEY
// could later derive other keys (with other info) that never equal this one.
const hkdfInfo = "go-jwt mfa totp-secret aes-256-gcm v1"

// Sealer encrypts TOTP secrets at rest: AES-256-GCM (standard library)
// under a key derived from DATA_KEY with HKDF-SHA256 (RFC 5869,
// golang.org/x/crypto/hkdf). A sealed value is version (1 byte), a random
// 96-bit nonce and the ciphertext with its 16-byte tag. The user name is the
// associated data: a sealed secret copied to another user's record does not
// open there.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the encryption key from dataKey (at least
// MinDataKeyLen bytes).
func NewSealer(dataKey []byte) (*Sealer, error) {
	if len(dataKey) < MinDataKeyLen {
		return nil, fmt.Errorf("DATA_KEY must be at least %d bytes, got %d", MinDataKeyLen, len(dataKey))
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, dataKey, nil, []byte(hkdfInfo)), key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func associated(user string) []byte { return []byte("totp\x00" + user) }

// Seal encrypts plain for user.
func (s *Sealer) Seal(user string, plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, associated(user)), nil
}

// Open decrypts what Seal made for user. Anything that does not
// authenticate (another DATA_KEY, another user, a changed byte, an unknown
// version) is global.ErrDataKey: the caller fails closed.
func (s *Sealer) Open(user string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, global.ErrDataKey
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], associated(user))
	if err != nil {
		return nil, global.ErrDataKey
	}
	return plain, nil
}
