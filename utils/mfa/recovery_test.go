package mfa_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go-jwt/test/testkit"
)

var shownCode = regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$`)

// TestRecoveryCodeSingleUse: ten distinct codes; each works once, in any
// case and with or without dashes, on the login and the signed-in routes.
func TestRecoveryCodeSingleUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		_, codes := f.enable()
		seen := map[string]bool{}
		for _, c := range codes {
			if !shownCode.MatchString(c) || seen[c] {
				t.Fatalf("codes %q: want 10 distinct XXXX-XXXX-XXXX-XXXX", codes)
			}
			seen[c] = true
		}
		if len(codes) != 10 {
			t.Fatalf("%d codes, want 10", len(codes))
		}
		ctx := context.Background()
		tok := f.challenge()
		if _, err := f.store.Redeem(ctx, tok, codes[0], true); err != nil {
			t.Fatal(err)
		}
		_, err := f.store.Redeem(ctx, f.challenge(), codes[0], true)
		wantErr(t, err, errWrong)
		wantErr(t, f.login(strings.ToLower(strings.ReplaceAll(codes[1], "-", ""))), nil)
		wantErr(t, f.login(codes[1]), errWrong)
		wantErr(t, f.login(strings.ReplaceAll(codes[2], "-", " ")), nil)
		st, err := f.store.Status(ctx, f.user)
		if err != nil || st.RecoveryCodesLeft != 7 || !st.TOTP {
			t.Fatalf("status %+v, %v; want TOTP on and 7 codes left", st, err)
		}
		// recoveryOnly refuses a TOTP code, and a code of another shape is
		// just wrong.
		for _, bad := range []string{"123456", "AAAA-AAAA-AAAA-AAAA", "not a code", strings.Repeat("A", 17)} {
			_, err := f.store.Redeem(ctx, f.challenge(), bad, true)
			wantErr(t, err, errWrong)
		}
	})
}

// TestConcurrentRecoveryCodeUseOneWins: one recovery code at many logins at
// once: exactly one passes.
func TestConcurrentRecoveryCodeUseOneWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		_, codes := f.enable()
		const n = 20
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = f.challenge()
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = f.store.Redeem(context.Background(), tokens[i], codes[3], true) })
		}
		wg.Wait()
		oneWins(t, errs, errWrong)
	})
}

// TestRecoveryCodesRegenerated: a new set replaces the old one whole.
func TestRecoveryCodesRegenerated(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		secret, old := f.enable()
		ctx := context.Background()
		wantErr(t, f.login(old[0]), nil)
		_, err := f.store.RegenerateRecoveryCodes(ctx, f.user, "000000")
		wantErr(t, err, errWrong)
		fresh, err := f.store.RegenerateRecoveryCodes(ctx, f.user, f.code(secret, 0))
		if err != nil || len(fresh) != 10 {
			t.Fatalf("regenerate: %d codes, %v", len(fresh), err)
		}
		if st, _ := f.store.Status(ctx, f.user); st.RecoveryCodesLeft != 10 {
			t.Fatalf("%d codes left after regenerating, want 10", st.RecoveryCodesLeft)
		}
		for _, c := range old[1:] {
			wantErr(t, f.login(c), errWrong)
		}
		wantErr(t, f.login(fresh[9]), nil)
		// A recovery code can pay for the next set.
		again, err := f.store.RegenerateRecoveryCodes(ctx, f.user, fresh[0])
		if err != nil || len(again) != 10 {
			t.Fatalf("regenerate with a recovery code: %v", err)
		}
		wantErr(t, f.login(fresh[1]), errWrong)
	})
}
