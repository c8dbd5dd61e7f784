package mfa_test

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
	"go-jwt/utils/mfa"
)

// TestChallengeSingleUse: an mfaToken that passed is spent, even for the
// next right code.
func TestChallengeSingleUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		secret, codes := f.enable()
		ctx := context.Background()
		tok := f.challenge()
		if user, account, err := f.store.Challenge(ctx, tok); err != nil || user != f.user || account != testAccount {
			t.Fatalf("challenge: %q %q, %v", user, account, err)
		}
		user, err := f.store.Redeem(ctx, tok, f.code(secret, 0), false)
		if err != nil || user != f.user {
			t.Fatalf("redeem: %q, %v", user, err)
		}
		_, _, err = f.store.Challenge(ctx, tok)
		wantErr(t, err, errToken)
		_, err = f.store.Redeem(ctx, tok, codes[0], false)
		wantErr(t, err, errToken)
		if st, _ := f.store.Status(ctx, f.user); st.RecoveryCodesLeft != 10 {
			t.Fatal("a spent mfaToken used up a recovery code")
		}
	})
}

// TestConcurrentChallengeUseOneWins: one mfaToken, many right codes at once
// (recovery codes, each valid): exactly one login passes.
func TestConcurrentChallengeUseOneWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		_, codes := f.enable()
		tok := f.challenge()
		errs := make([]error, len(codes))
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() { _, errs[i] = f.store.Redeem(context.Background(), tok, codes[i], false) })
		}
		wg.Wait()
		oneWins(t, errs, errToken)
	})
}

// TestChallengeExpires: 5 minutes by the injected clock.
func TestChallengeExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		secret, _ := f.enable()
		ctx := context.Background()
		tok := f.challenge()
		f.clock.Advance(mfa.ChallengeTTL - time.Second)
		if _, _, err := f.store.Challenge(ctx, tok); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		f.clock.Advance(time.Second)
		_, _, err := f.store.Challenge(ctx, tok)
		wantErr(t, err, errToken)
		_, err = f.store.Redeem(ctx, tok, f.code(secret, 0), false)
		wantErr(t, err, errToken)
		if b.Mini != nil { // and Redis lets the key go by TTL
			b.Mini.FastForward(mfa.ChallengeTTL)
			for _, k := range b.Mini.Keys() {
				if strings.Contains(k, ":c:") {
					t.Fatalf("challenge key %q left after its TTL", k)
				}
			}
		}
	})
}

// TestChallengeDiesAfterFiveWrongCodes: four wrong codes leave the token
// live, the fifth kills it, and then not even the right code passes.
func TestChallengeDiesAfterFiveWrongCodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		secret, codes := f.enable()
		ctx := context.Background()
		tok := f.challenge()
		wrong := []string{"000000", "999999", "AAAA-BBBB-CCCC-DDDD", "x", f.code(secret, -5*mfa.Period)}
		for i, w := range wrong {
			_, err := f.store.Redeem(ctx, tok, w, false)
			wantErr(t, err, errWrong)
			_, _, err = f.store.Challenge(ctx, tok)
			if i < mfa.MaxAttempts-1 && err != nil {
				t.Fatalf("after %d wrong codes: %v", i+1, err)
			}
		}
		_, _, err := f.store.Challenge(ctx, tok)
		wantErr(t, err, errToken)
		_, err = f.store.Redeem(ctx, tok, f.code(secret, 0), false)
		wantErr(t, err, errToken)
		_, err = f.store.Redeem(ctx, tok, codes[0], true)
		wantErr(t, err, errToken)
		// The user is not locked out: a new login gets a new token.
		wantErr(t, f.login(f.code(secret, 0)), nil)
	})
}

// TestChallengeIsNoTokenElsewhere: an mfaToken is not a JWT: the codec
// refuses it as an access and as a refresh token; and no access or refresh
// token, nor anything malformed, is taken for an mfaToken.
func TestChallengeIsNoTokenElsewhere(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0])
	f.enable()
	tok := f.challenge()
	codec := utils.NewJWT([]byte("unit-test-jwt-secret-unit-test-jwt"), "jwt-demo", 15*time.Minute, time.Hour, 24*time.Hour, f.clock.Now)
	for _, typ := range []string{global.TokenAccess, global.TokenRefresh} {
		if c, err := codec.Parse(tok, typ); err == nil || c != nil {
			t.Fatalf("an mfaToken parsed as a %s token: %+v", typ, c)
		}
	}
	if strings.Contains(tok, ".") {
		t.Fatalf("mfaToken %q has a dot: it could be taken for a JWT", tok)
	}
	pair, err := codec.Issue(f.user, "00000000-0000-0000-0000-000000000001", f.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for name, bad := range map[string]string{
		"access token": pair.Access, "refresh token": pair.Refresh, "empty": "",
		"padded":           tok + "=",
		"another user":     base64.RawURLEncoding.EncodeToString(append(raw[:32:32], "someone"...)),
		"name with braces": base64.RawURLEncoding.EncodeToString(append(raw[:32:32], "a}b{c"...)),
		"no name":          base64.RawURLEncoding.EncodeToString(raw[:32]),
		"huge":             strings.Repeat("A", 10000),
	} {
		if _, _, err := f.store.Challenge(context.Background(), bad); err != global.ErrTokenMFA {
			t.Errorf("%s as mfaToken: %v, want ErrTokenMFA", name, err)
		}
	}
}
