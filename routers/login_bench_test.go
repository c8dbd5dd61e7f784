package routers_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"go-jwt/test/testkit"
)

// BenchmarkLoginFailure compares a wrong password for a real user with an
// unknown user, at production hashing cost: the two must cost the same, or
// the timing tells an attacker which usernames exist.
//
//	go test -run '^$' -bench LoginFailure -benchtime 200x ./routers/
//
// A user with two-factor authentication on costs the same as well: the
// second factor is asked only after the password verified.
func BenchmarkLoginFailure(b *testing.B) {
	h := newBenchHarness(b)
	withMFA := newHarness(b, h.backend, map[string]string{"ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME": "2"})
	withMFA.enableTOTP(withMFA.login().AccessToken)
	for _, bc := range []struct{ name, body string }{
		{"wrong-password", "username=" + h.user + "&password=wrong"},
		{"unknown-user", "username=nobody-at-all&password=wrong"},
		{"wrong-password-totp-on", "username=" + withMFA.user + "&password=wrong"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if w := h.do(req{method: "POST", path: "/public/login", ctype: form, body: bc.body}); w.Code != http.StatusUnauthorized {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// newBenchHarness is the production router at production hashing cost, with
// rate limits out of the way.
func newBenchHarness(b *testing.B) *harness {
	return newHarness(b, testkit.Backends(b)[0], map[string]string{
		"ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME": "2",
		"LOGIN_USER_RATE": "1000000", "LOGIN_USER_BURST": "1000000",
		"LOGIN_IP_RATE": "1000000", "LOGIN_IP_BURST": "1000000",
	})
}

// BenchmarkWelcomeWhileLoginsSaturate measures a private route alone and
// while 16 clients keep every hashing slot busy with failing logins: the
// bound on concurrent hashes keeps token checks fast under a login flood.
//
//	go test -run '^$' -bench WelcomeWhileLogins -benchtime 3000x ./routers/
func BenchmarkWelcomeWhileLoginsSaturate(b *testing.B) {
	h := newBenchHarness(b)
	p := h.login()
	welcome := func(b *testing.B) {
		for b.Loop() {
			if w := h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}); w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("idle", welcome)
	b.Run("logins-saturated", func(b *testing.B) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var logins, busy atomic.Int64
		for range 16 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					w := h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=wrong"})
					logins.Add(1)
					if w.Code == http.StatusServiceUnavailable {
						busy.Add(1)
					}
				}
			})
		}
		welcome(b)
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(logins.Load()), "logins")
		b.ReportMetric(float64(busy.Load()), "logins-503")
	})
}
