package routers_test

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

// TestTwoFactorRouteErrors: every error of §11 on each route.
func TestTwoFactorRouteErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		t.Run("enroll", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			a := h.login().AccessToken
			expect(t, h.post("POST", "/user/mfa/totp/enroll", a), 400, "invalid_request")
			expect(t, h.post("POST", "/user/mfa/totp/enroll", a, "password", "wrong"), 403, "invalid_credentials")
			expect(t, h.do(req{method: "POST", path: "/user/mfa/totp/enroll", header: bearer(a), body: `{"password":`, ctype: "application/json"}), 400, "invalid_request")
			expect(t, h.do(req{method: "POST", path: "/user/mfa/totp/enroll", header: bearer(a), body: "x", ctype: "text/plain"}), 415, "invalid_request")
			expect(t, h.do(req{method: "POST", path: "/user/mfa/totp/enroll", header: bearer(a), body: `{"password":"` + strings.Repeat("a", 9000) + `"}`, ctype: "application/json"}), 413, "invalid_request")
			secret, _ := h.enableTOTP(a)
			expect(t, h.post("POST", "/user/mfa/totp/enroll", a, "password", "123"), 403, "mfa_required") // a password-only session
			a = h.otpSession(secret).AccessToken
			expect(t, h.post("POST", "/user/mfa/totp/enroll", a, "password", "123"), 409, "conflict")
		})
		t.Run("confirm", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			a := h.login().AccessToken
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", "123456"), 409, "conflict") // nothing pending
			w := h.post("POST", "/user/mfa/totp/enroll", a, "password", "123")
			expect(t, w, 200, "")
			secret := jsonField(t, w, "secret")
			secrets.add(secret)
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a), 400, "invalid_request")
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", wrongCode(h.totp(secret, 0))), 403, "invalid_credentials")
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", "not a code"), 403, "invalid_credentials")
			h.clock.Advance(mfa.PendingTTL) // the enrollment ran out
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", h.totp(secret, 0)), 409, "conflict")
			secret, _ = h.enableTOTP(a)
			a = h.otpSession(secret).AccessToken // a password-only session would be 403 mfa_required
			expect(t, h.post("POST", "/user/mfa/totp/confirm", a, "code", h.nextCode(secret)), 409, "conflict")
		})
		t.Run("disable and recovery codes", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			a := h.login().AccessToken
			for _, path := range []string{"/user/mfa/totp", "/user/mfa/recovery-codes"} {
				method := map[string]string{"/user/mfa/totp": "DELETE", "/user/mfa/recovery-codes": "POST"}[path]
				expect(t, h.post(method, path, a, "password", "123", "code", "123456"), 409, "conflict") // TOTP off
				expect(t, h.post(method, path, a, "password", "123"), 400, "invalid_request")
			}
			secret, rc := h.enableTOTP(a)
			for _, path := range []string{"/user/mfa/totp", "/user/mfa/recovery-codes"} {
				method := map[string]string{"/user/mfa/totp": "DELETE", "/user/mfa/recovery-codes": "POST"}[path]
				expect(t, h.post(method, path, a, "code", h.nextCode(secret)), 400, "invalid_request")
				expect(t, h.post(method, path, a, "password", "wrong", "code", h.nextCode(secret)), 403, "invalid_credentials")
				expect(t, h.post(method, path, a, "password", "123", "code", wrongCode(h.nextCode(secret))), 403, "invalid_credentials")
				expect(t, h.post(method, path, a, "password", "123", "code", "AAAA-AAAA-AAAA-AAAA"), 403, "invalid_credentials")
			}
			// A used code is wrong on the signed-in routes too.
			code := h.nextCode(secret)
			expect(t, h.post("POST", "/user/mfa/recovery-codes", a, "password", "123", "code", code), 200, "")
			expect(t, h.post("DELETE", "/user/mfa/totp", a, "password", "123", "code", code), 403, "invalid_credentials")
			expect(t, h.post("DELETE", "/user/mfa/totp", a, "password", "123", "code", rc[0]), 403, "invalid_credentials") // the old set
			if st := h.mfaStatus(a); !st.TOTP {
				t.Fatal("a refused disable turned TOTP off")
			}
		})
		t.Run("second login step", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			p := h.login()
			secret, rc := h.enableTOTP(p.AccessToken)
			tok := h.mfaChallenge()
			expect(t, h.post("POST", "/public/login/mfa", "", "code", "123456"), 400, "invalid_request")
			expect(t, h.post("POST", "/public/login/mfa", "", "mfaToken", tok), 400, "invalid_request")
			expect(t, h.post("POST", "/public/login/mfa", "", "mfaToken", tok, "code", "123456", "recoveryCode", rc[0]), 400, "invalid_request")
			expect(t, h.do(req{method: "POST", path: "/public/login/mfa", body: "x", ctype: "text/plain"}), 415, "invalid_request")
			expect(t, h.do(req{method: "POST", path: "/public/login/mfa", body: jsonBody("mfaToken", tok, "code", strings.Repeat("1", 9000)), ctype: "application/json"}), 413, "invalid_request")
			expect(t, h.do(req{method: "POST", path: "/public/login/mfa", body: "mfaToken=" + tok + "&code=" + wrongCode(h.totp(secret, 0)), ctype: form}), 401, "invalid_credentials")
			expect(t, h.secondStep("bm90LWEtdG9rZW4", "code", h.nextCode(secret)), 401, "invalid_token")
			expect(t, h.secondStep(p.AccessToken, "code", h.nextCode(secret)), 401, "invalid_token")
			expect(t, h.secondStep(tok, "recoveryCode", h.nextCode(secret)), 401, "invalid_credentials") // a TOTP code is no recovery code
			expect(t, h.secondStep(tok, "code", wrongCode(h.nextCode(secret))), 401, "invalid_credentials")
			code := h.nextCode(secret)
			decodePair(t, h.secondStep(tok, "code", code))
			expect(t, h.secondStep(tok, "code", h.nextCode(secret)), 401, "invalid_token") // spent
			expect(t, h.secondStep(h.mfaChallenge(), "code", code), 401, "invalid_credentials")
			// Expired: 5 minutes by the clock.
			old := h.mfaChallenge()
			h.clock.Advance(mfa.ChallengeTTL)
			expect(t, h.secondStep(old, "code", h.totp(secret, 0)), 401, "invalid_token")
			// Dead after 5 wrong codes, also for the right one.
			dying := h.mfaChallenge()
			for i := range mfa.MaxAttempts {
				expect(t, h.secondStep(dying, "code", "00000"+strconv.Itoa(i)), 401, "invalid_credentials")
			}
			expect(t, h.secondStep(dying, "code", h.nextCode(secret)), 401, "invalid_token")
			expect(t, h.secondStep(dying, "recoveryCode", rc[0]), 401, "invalid_token")
			decodePair(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[0])) // not used up by the dead token
		})
	})
}

// wrongCode is a six-digit code other than c.
func wrongCode(c string) string {
	n, _ := strconv.Atoi(c)
	return strconv.Itoa(100000 + (n+1)%900000)
}

// jsonField is the string field name of a JSON answer.
func jsonField(t testing.TB, w *httptest.ResponseRecorder, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s: %v", w.Body, err)
	}
	s, _ := m[name].(string)
	return s
}
