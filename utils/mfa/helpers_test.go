package mfa_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

const dataKey = "unit-test-data-key-unit-test-data-key"

// testAccount is the account version the fixtures' challenges are bound to.
const testAccount = "acct-v1"

// fixture is a second-factor store on one backend with one clock, for a
// fresh user.
type fixture struct {
	t     *testing.T
	clock *testkit.Clock
	store *mfa.Store
	user  string
	b     testkit.Backend
}

func newFixture(t *testing.T, b testkit.Backend) *fixture {
	t.Helper()
	clock := testkit.NewClock()
	return &fixture{t: t, clock: clock, store: newStore(t, b, dataKey, clock), user: testkit.Name(t), b: b}
}

func newStore(t *testing.T, b testkit.Backend, key string, clock *testkit.Clock) *mfa.Store {
	t.Helper()
	sealer, err := mfa.NewSealer([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return mfa.NewStore(b.Client, sealer, "go-jwt-test", clock.Now)
}

// eachBackend runs f against miniredis and, when configured, real Redis
// (and a Redis Cluster).
func eachBackend(t *testing.T, f func(t *testing.T, b testkit.Backend)) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// enable enrolls and confirms TOTP for the fixture's user: the secret and
// the recovery codes. The clock then moves on a step, so the confirming
// code's step is in the past.
func (f *fixture) enable() (string, []string) {
	f.t.Helper()
	e, err := f.store.Enroll(context.Background(), f.user)
	if err != nil {
		f.t.Fatal(err)
	}
	codes, err := f.store.Confirm(context.Background(), f.user, f.code(e.Secret, 0))
	if err != nil {
		f.t.Fatalf("confirm: %v", err)
	}
	f.clock.Advance(mfa.Period)
	return e.Secret, codes
}

// code is secret's code at the fixture's clock plus offset.
func (f *fixture) code(secret string, offset time.Duration) string {
	f.t.Helper()
	c, err := mfa.Code(secret, f.clock.Now().Add(offset))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// challenge starts a second login step.
func (f *fixture) challenge() string {
	f.t.Helper()
	tok, err := f.store.NewChallenge(context.Background(), f.user, testAccount)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// login runs a whole second step with code: its error.
func (f *fixture) login(code string) error {
	f.t.Helper()
	_, err := f.store.Redeem(context.Background(), f.challenge(), code, false)
	return err
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		t.Fatalf("error %v, want %v", got, want)
	}
}

// oneWins fails t unless exactly one of errs is nil and every other one
// is loser: the outcome of concurrent uses of one code or one token.
func oneWins(t *testing.T, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantErr(t, err, loser)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent uses passed, want exactly 1", wins, len(errs))
	}
}

var (
	errWrong = global.ErrWrongCode
	errToken = global.ErrTokenMFA
)
