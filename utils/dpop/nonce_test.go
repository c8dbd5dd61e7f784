package dpop_test

import (
	"errors"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// TestNonces: with nonces on, a proof must carry the current window's
// nonce or the previous one's; a missing, stale or forged nonce is
// use_dpop_nonce. A second instance with the same key accepts the first's.
func TestNonces(t *testing.T) {
	clock := testkit.NewClock()
	key := dpop.NonceKey([]byte("a configured secret a configured secret"))
	mine := dpop.NewNonces(key, clock.Now)
	other := dpop.NewNonces(key, clock.Now) // another instance
	forger := dpop.NewNonces(dpop.NonceKey([]byte("someone else's key someone else's key")), clock.Now)
	es := newKey(t, "ES256")

	stale := mine.Current()
	clock.Advance(2 * dpop.NonceWindow)
	previous := mine.Current()
	clock.Advance(dpop.NonceWindow)
	current := mine.Current()
	if current == previous || previous == stale {
		t.Fatal("nonces do not change with the window")
	}

	withNonce := func(n string) string {
		return es.proof(t, clock.Now(), func(_, c map[string]any) any {
			if n != "" {
				c["nonce"] = n
			}
			return nil
		})
	}
	tests := []struct {
		name  string
		proof string
		want  error
	}{
		{"current nonce", withNonce(current), nil},
		{"previous window's nonce", withNonce(previous), nil},
		{"another instance's nonce", withNonce(other.Current()), nil},
		{"nonce missing", withNonce(""), dpop.ErrNoNonce},
		{"stale nonce", withNonce(stale), dpop.ErrBadNonce},
		{"forged nonce", withNonce(forger.Current()), dpop.ErrBadNonce},
		{"nonce of a future window", withNonce(dpop.NewNonces(key, func() time.Time { return clock.Now().Add(dpop.NonceWindow) }).Current()), dpop.ErrBadNonce},
		{"garbage nonce", withNonce("not-a-nonce"), dpop.ErrBadNonce},
	}
	v := dpop.NewVerifier(maxAge, mine, clock.Now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Check([]string{tt.proof}, resource)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, global.ErrDPoPNonce) || errors.Is(err, global.ErrDPoPProof) {
				t.Fatalf("error %v, want %v (use_dpop_nonce only)", err, tt.want)
			}
		})
	}
	if v.Nonce() != current {
		t.Fatalf("Nonce() %q, want the current %q", v.Nonce(), current)
	}
	if dpop.NewVerifier(maxAge, nil, clock.Now).Nonce() != "" {
		t.Fatal("a nonce handed out with nonces off")
	}
}

// TestNonceKeyIsNotTheSecret: the nonce key is derived, and depends on the
// secret.
func TestNonceKeyIsNotTheSecret(t *testing.T) {
	a, b := dpop.NonceKey([]byte("secret-one")), dpop.NonceKey([]byte("secret-two"))
	if string(a) == "secret-one" || string(a) == string(b) || len(a) != 32 {
		t.Fatalf("keys %x, %x", a, b)
	}
}
