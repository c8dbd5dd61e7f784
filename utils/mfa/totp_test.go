package mfa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

// TestCodeWindows: the codes of the previous, the current and the next time
// step are accepted (one step of skew), two steps off are not. The clock is
// the store's injected one.
func TestCodeWindows(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		for _, tt := range []struct {
			name   string
			offset time.Duration
			want   error
		}{
			{"two steps back", -2 * mfa.Period, errWrong},
			{"previous step", -mfa.Period, nil},
			{"current step", 0, nil},
			{"next step", mfa.Period, nil},
			{"two steps ahead", 2 * mfa.Period, errWrong},
			{"ten minutes back", -10 * time.Minute, errWrong},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := newFixture(t, b)
				secret, _ := f.enable()
				f.clock.Advance(5 * time.Minute) // well past the confirming code's step
				wantErr(t, f.login(f.code(secret, tt.offset)), tt.want)
			})
		}
	})
}

// TestCodeWindowEdges: within a step every second is the same step, and the
// step turns over at the multiple of 30 s.
func TestCodeWindowEdges(t *testing.T) {
	f := newFixture(t, testkit.Backends(t)[0])
	secret, _ := f.enable()
	f.clock.Advance(5 * time.Minute)
	now := f.clock.Now()
	start := now.Truncate(mfa.Period)
	// The code of the step that began 2 steps before this one is off by
	// exactly two: refused, even at the last second of its own step.
	old, _ := mfa.Code(secret, start.Add(-2*mfa.Period+mfa.Period-time.Second))
	wantErr(t, f.login(old), errWrong)
	prev, _ := mfa.Code(secret, start.Add(-time.Second))
	wantErr(t, f.login(prev), nil)
}

// TestReplayRefused: a code's time step is accepted once; the code that
// confirmed the enrollment included, and an earlier step after a later one.
func TestReplayRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		t.Run("same code twice", func(t *testing.T) {
			f := newFixture(t, b)
			secret, _ := f.enable()
			code := f.code(secret, 0)
			wantErr(t, f.login(code), nil)
			wantErr(t, f.login(code), errWrong)
			f.clock.Advance(mfa.Period) // the same code is still in the window
			wantErr(t, f.login(code), errWrong)
			wantErr(t, f.login(f.code(secret, 0)), nil) // the new step's code works
		})
		t.Run("the confirming code", func(t *testing.T) {
			f := newFixture(t, b)
			e, err := f.store.Enroll(context.Background(), f.user)
			if err != nil {
				t.Fatal(err)
			}
			code := f.code(e.Secret, 0)
			if _, err := f.store.Confirm(context.Background(), f.user, code); err != nil {
				t.Fatal(err)
			}
			wantErr(t, f.login(code), errWrong)
		})
		t.Run("an earlier step after a later one", func(t *testing.T) {
			f := newFixture(t, b)
			secret, _ := f.enable()
			f.clock.Advance(5 * time.Minute)
			wantErr(t, f.login(f.code(secret, mfa.Period)), nil)
			wantErr(t, f.login(f.code(secret, 0)), errWrong)
			wantErr(t, f.login(f.code(secret, -mfa.Period)), errWrong)
		})
		t.Run("replay on a signed-in route", func(t *testing.T) {
			f := newFixture(t, b)
			secret, _ := f.enable()
			code := f.code(secret, 0)
			if _, err := f.store.RegenerateRecoveryCodes(context.Background(), f.user, code); err != nil {
				t.Fatal(err)
			}
			wantErr(t, f.store.Disable(context.Background(), f.user, code), errWrong)
		})
	})
}

// TestConcurrentCodeUseOneWins: many logins at once, each with its own
// mfaToken and the same code: exactly one passes.
func TestConcurrentCodeUseOneWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		f := newFixture(t, b)
		secret, _ := f.enable()
		code := f.code(secret, 0)
		const n = 20
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = f.challenge()
		}
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = f.store.Redeem(context.Background(), tokens[i], code, false)
			})
		}
		close(start)
		wg.Wait()
		oneWins(t, errs, errWrong)
	})
}
