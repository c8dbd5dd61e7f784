package utils_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/utils"
)

var cheap = utils.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

func newHasher(t *testing.T, p utils.Argon2Params, slots int, wait time.Duration) *utils.Hasher {
	t.Helper()
	h, err := utils.NewHasher(p, slots, wait, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap, 2, time.Second)
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(hash, "correct horse") {
		t.Fatalf("hash %q", hash)
	}
	other, _ := h.Hash(ctx, "correct horse")
	if other == hash {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	stronger := newHasher(t, utils.Argon2Params{Memory: 2048, Time: 1, Threads: 1}, 2, time.Second)
	tests := []struct {
		name             string
		hasher           *utils.Hasher
		encoded, pw      string
		ok, rehash, fail bool
	}{
		{name: "right password", hasher: h, encoded: hash, pw: "correct horse", ok: true},
		{name: "wrong password", hasher: h, encoded: hash, pw: "correct horsE"},
		{name: "empty password", hasher: h, encoded: hash, pw: ""},
		{name: "unknown user never matches", hasher: h, encoded: "", pw: "correct horse"},
		{name: "old parameters ask for a rehash", hasher: stronger, encoded: hash, pw: "correct horse", ok: true, rehash: true},
		{name: "no rehash after a failure", hasher: stronger, encoded: hash, pw: "nope"},
		{name: "bcrypt hash is not ours", hasher: h, encoded: "$2a$10$abcdefghijklmnopqrstuv", pw: "x", fail: true},
		{name: "truncated hash", hasher: h, encoded: hash[:30], pw: "x", fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.hasher.Verify(ctx, tt.encoded, tt.pw)
			if (err != nil) != tt.fail || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v", ok, rehash, err)
			}
		})
	}
}

func TestHasherIsBounded(t *testing.T) {
	h := newHasher(t, cheap, 1, 20*time.Millisecond)
	release := h.HoldSlot()
	_, err := h.Hash(context.Background(), "password")
	if !errors.Is(err, global.ErrBusy) {
		t.Fatalf("hash with every slot taken: %v, want ErrBusy", err)
	}
	if _, _, err := h.Verify(context.Background(), "", "password"); !errors.Is(err, global.ErrBusy) {
		t.Fatalf("verify with every slot taken: %v, want ErrBusy", err)
	}
	release()
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("hash after release: %v", err)
	}
}

func TestCanonicalUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"kesa", "kesa", true},
		{"Kesa", "kesa", true},
		{"a.b_c-9", "a.b_c-9", true},
		{"ab", "", false},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{"has space", "", false},
		{"brace{x}", "", false},
		{"colon:x", "", false},
		{"ünï", "", false},
	}
	for _, tt := range tests {
		got, err := utils.CanonicalUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("CanonicalUsername(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// The hasher times each hash a request makes (the metric go run ./bench
// compares logins with), and not the dummy hash it makes at start-up.
func TestHasherTimesEachHash(t *testing.T) {
	ctx := context.Background()
	var times []time.Duration
	h, err := utils.NewHasher(cheap, 1, time.Second, func(d time.Duration) { times = append(times, d) })
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 0 {
		t.Fatalf("%d hashes timed at start-up", len(times))
	}
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Verify(ctx, hash, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Verify(ctx, "", "unknown user"); err != nil {
		t.Fatal(err)
	}
	if len(times) != 3 {
		t.Fatalf("%d hashes timed, want 3 (hash, verify, verify of an unknown user)", len(times))
	}
	for _, d := range times {
		if d <= 0 {
			t.Fatalf("a hash timed at %v", d)
		}
	}
}
