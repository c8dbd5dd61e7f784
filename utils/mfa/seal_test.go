package mfa_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go-jwt/global"
	"go-jwt/utils/mfa"
)

func TestSealRoundTrip(t *testing.T) {
	s, err := mfa.NewSealer([]byte(dataKey))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	a, err := s.Seal("alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Seal("alice", secret)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if bytes.Contains(a, secret) || len(a) > 64 {
		t.Fatalf("sealed value %q holds the secret or is over 64 bytes (%d)", a, len(a))
	}
	for _, sealed := range [][]byte{a, b} {
		got, err := s.Open("alice", sealed)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("open: %q, %v", got, err)
		}
	}
}

// TestOpenFailsClosed: whatever does not authenticate is global.ErrDataKey,
// never a secret: a wrong DATA_KEY, another user's record, a changed byte.
func TestOpenFailsClosed(t *testing.T) {
	right, _ := mfa.NewSealer([]byte(dataKey))
	wrong, _ := mfa.NewSealer([]byte(strings.Repeat("w", 32)))
	sealed, err := right.Seal("alice", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		sealer *mfa.Sealer
		user   string
		value  []byte
	}{
		{"wrong DATA_KEY", wrong, "alice", sealed},
		{"another user", right, "bob", sealed},
		{"version byte changed", right, "alice", flip(0)},
		{"nonce changed", right, "alice", flip(3)},
		{"ciphertext changed", right, "alice", flip(len(sealed) - 20)},
		{"tag changed", right, "alice", flip(len(sealed) - 1)},
		{"truncated", right, "alice", sealed[:len(sealed)-1]},
		{"too short", right, "alice", sealed[:10]},
		{"empty", right, "alice", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.user, tt.value)
			if !errors.Is(err, global.ErrDataKey) || got != nil {
				t.Fatalf("open: %q, %v; want nothing and ErrDataKey", got, err)
			}
		})
	}
}

func TestNewSealerRefusesShortKeys(t *testing.T) {
	if _, err := mfa.NewSealer([]byte(strings.Repeat("k", 31))); err == nil || !strings.Contains(err.Error(), "DATA_KEY") {
		t.Fatalf("31-byte key: %v, want an error naming DATA_KEY", err)
	}
	if _, err := mfa.NewSealer([]byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
}
