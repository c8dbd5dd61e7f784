package routers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go-jwt/test/testkit"
)

// TestMFATokenAcceptedNowhereElse: an mfaToken is no access token, no
// refresh token and not live for introspection.
func TestMFATokenAcceptedNowhereElse(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		h.enableTOTP(h.login().AccessToken)
		tok := h.mfaChallenge()
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(tok)}), 401, "invalid_token")
		expect(t, h.do(req{method: "GET", path: "/user/mfa", header: bearer(tok)}), 401, "invalid_token")
		expect(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(tok)}), 401, "invalid_token")
		expect(t, h.post("POST", "/public/refresh", "", "refreshToken", tok), 401, "invalid_token")
		inactive(t, h.introspect(tok))
		w := h.do(req{method: "POST", path: "/public/introspect", body: "token=" + url.QueryEscape(tok) + "&token_type_hint=refresh_token",
			ctype: form, header: bearer(introspectSecret)})
		expect(t, w, 200, `{"active":false}`)
	})
}

// TestWrongPasswordDoesNotRevealMFA: a wrong password of a user with TOTP
// on gets the very answer of a user without it and of an unknown user;
// only the right password learns of the second factor.
func TestWrongPasswordDoesNotRevealMFA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		h.enableTOTP(h.login().AccessToken)
		plain := newHarness(t, b, mfaEnv)
		answer := func(g *harness, user string) (int, string, http.Header) {
			w := g.do(req{method: "POST", path: "/public/login", body: "username=" + user + "&password=wrong", ctype: form})
			hd := w.Header().Clone()
			hd.Del("X-Request-Id")
			return w.Code, w.Body.String(), hd
		}
		s1, b1, h1 := answer(h, h.user)
		s2, b2, h2 := answer(plain, plain.user)
		s3, b3, h3 := answer(h, "nobody-"+h.user)
		if s1 != 401 || s1 != s2 || s1 != s3 || b1 != b2 || b1 != b3 || strings.Contains(b1, "mfa") {
			t.Fatalf("wrong password answers differ: %d %s / %d %s / %d %s", s1, b1, s2, b2, s3, b3)
		}
		for _, hd := range []http.Header{h2, h3} {
			if len(hd) != len(h1) || hd.Get("Cache-Control") != h1.Get("Cache-Control") || hd.Get("Content-Type") != h1.Get("Content-Type") {
				t.Fatalf("wrong password headers differ: %v vs %v", h1, hd)
			}
		}
		h.mfaChallenge() // the right password does get the challenge
	})
}

// TestWrongCodesChargeTheBudget: wrong codes spend the user's failure
// budget like wrong passwords: past it, 429 (with Retry-After) before any
// check, the right password included; on the signed-in routes too.
func TestWrongCodesChargeTheBudget(t *testing.T) {
	env := map[string]string{"LOGIN_USER_RATE": "1", "LOGIN_USER_BURST": "3", "LOGIN_IP_RATE": "1000", "LOGIN_IP_BURST": "1000"}
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		t.Run("second login step", func(t *testing.T) {
			h := newHarness(t, b, env)
			secret, _ := h.enableTOTP(h.login().AccessToken)
			tok := h.mfaChallenge()
			for i := range 3 {
				expect(t, h.secondStep(tok, "code", "99999"+strconv.Itoa(i)), 401, "invalid_credentials")
			}
			w := h.secondStep(tok, "code", h.nextCode(secret))
			expect(t, w, 429, "rate_limited")
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			expect(t, h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form}), 429, "rate_limited")
		})
		t.Run("confirm", func(t *testing.T) {
			h := newHarness(t, b, env)
			a := h.login().AccessToken
			expect(t, h.post("POST", "/user/mfa/totp/enroll", a, "password", "123"), 200, "")
			for range 3 {
				expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", "000000"), 403, "invalid_credentials")
			}
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", "000000"), 429, "rate_limited")
		})
	})
}

// TestConcurrentSecondStepsWithOneCode: several logins of one user, each
// with its own mfaToken, send the same code at once: exactly one gets a
// pair.
func TestConcurrentSecondStepsWithOneCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		secret, _ := h.enableTOTP(h.login().AccessToken)
		tokens := make([]string, 8)
		for i := range tokens {
			tokens[i] = h.mfaChallenge()
		}
		code := h.nextCode(secret)
		status := make([]int, len(tokens))
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Go(func() { status[i] = h.secondStep(tokens[i], "code", code).Code })
		}
		wg.Wait()
		ok := 0
		for _, s := range status {
			switch s {
			case 200:
				ok++
			case 401:
			default:
				t.Fatalf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent second steps with one code passed: %v", ok, len(status), status)
		}
	})
}

// TestWrongDataKeyIs503: an instance whose DATA_KEY is not the one the
// secrets were sealed with refuses the second step with 503 (never a pass,
// never a 401 that would count against the user), and tells the operator.
func TestWrongDataKeyIs503(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		secret, rc := h.enableTOTP(h.login().AccessToken)
		other := map[string]string{"DATA_KEY": "another-data-key-another-data-key-other", "DEMO_USER": h.user + ":123"}
		for k, v := range mfaEnv {
			other[k] = v
		}
		g := newHarness(t, b, other)
		w := g.secondStep(g.mfaChallenge(), "code", g.totp(secret, 0))
		expect(t, w, 503, "unavailable")
		if w.Header().Get("Retry-After") == "" || !strings.Contains(g.log.String(), "DATA_KEY") {
			t.Fatalf("503 without Retry-After, or no log line naming DATA_KEY:\n%s", g.log.String())
		}
		a := decodePair(t, g.secondStep(g.mfaChallenge(), "recoveryCode", rc[0])).AccessToken // hashes need no key
		expect(t, g.post("DELETE", "/user/mfa/totp", a, "password", "123", "code", g.totp(secret, 0)), 503, "unavailable")
		if st := g.mfaStatus(a); !st.TOTP {
			t.Fatal("TOTP off after a refused disable")
		}
	})
}

// TestTwoFactorRedisDown: 503, never a pass or a 401.
func TestTwoFactorRedisDown(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, mfaEnv)
	a := h.login().AccessToken
	secret, _ := h.enableTOTP(a)
	tok := h.mfaChallenge()
	b.Mini.Close()
	for _, w := range []struct {
		name string
		code int
	}{
		{"second step", h.secondStep(tok, "code", h.nextCode(secret)).Code},
		{"status", h.do(req{method: "GET", path: "/user/mfa", header: bearer(a)}).Code},
		{"enroll", h.post("POST", "/user/mfa/totp/enroll", a, "password", "123").Code},
		{"confirm", h.post("POST", "/user/mfa/totp/confirm", a, "code", "123456").Code},
		{"disable", h.post("DELETE", "/user/mfa/totp", a, "password", "123", "code", "123456").Code},
		{"recovery codes", h.post("POST", "/user/mfa/recovery-codes", a, "password", "123", "code", "123456").Code},
		{"password step", h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form}).Code},
	} {
		if w.code != 503 {
			t.Errorf("%s with Redis down: %d, want 503", w.name, w.code)
		}
	}
}

// TestSecondStepSetsTheRefreshCookie: in cookie mode the second step hands
// out the refresh cookie like a password login.
func TestSecondStepSetsTheRefreshCookie(t *testing.T) {
	env := map[string]string{"REFRESH_COOKIE": "on"}
	for k, v := range mfaEnv {
		env[k] = v
	}
	h := newHarness(t, testkit.Backends(t)[0], env)
	secret, _ := h.enableTOTP(h.login().AccessToken)
	w := h.secondStep(h.mfaChallenge(), "code", h.nextCode(secret))
	p := decodePair(t, w)
	if ck := cookieOf(w); ck == nil || ck.Value != p.RefreshToken {
		t.Fatalf("no refresh cookie after the second step: %v", w.Header())
	}
}
