package routers_test

import (
	"net/http/httptest"
	"testing"

	"go-jwt/test/testkit"
)

// Adding a second factor (review 1, finding 1): a user who has one already
// adds another only from a session opened with one (amr otp or hwk).

// passkeySession signs in with a's passkey: a session with amr [hwk].
func (h *harness) passkeySession(a *testkit.Authenticator) pair {
	h.t.Helper()
	return decodePair(h.t, h.signIn(a, testkit.Tweak{}))
}

// otpSession logs in with the password and a TOTP code of secret: a
// session with amr [pwd otp].
func (h *harness) otpSession(secret string) pair {
	h.t.Helper()
	return decodePair(h.t, h.secondStep(h.mfaChallenge(), "code", h.nextCode(secret)))
}

// enrollTOTP begins a TOTP enrollment from the session of access: the secret.
func (h *harness) enrollTOTP(access string) string {
	h.t.Helper()
	w := h.post("POST", "/user/mfa/totp/enroll", access, "password", "123")
	expect(h.t, w, 200, "")
	secret := jsonField(h.t, w, "secret")
	secrets.add(secret)
	return secret
}

// refusedFactors checks that the session of access can add no factor at
// all: each of the four steps is 403 mfa_required. begun is a registration
// ceremony and pending a TOTP secret that a stronger session of the same
// user started, so the finishing steps are tried with a live ceremony.
func (h *harness) refusedFactors(access string, begun *registration, pending string) {
	h.t.Helper()
	expect(h.t, h.do(req{method: "POST", path: "/user/passkeys/register/begin", body: `{"password":"123"}`, ctype: jsonType,
		header: bearer(access)}), 403, "mfa_required")
	expect(h.t, h.finishRegistration(access, begun.begin, begun.a, testkit.Tweak{}), 403, "mfa_required")
	expect(h.t, h.post("POST", "/user/mfa/totp/enroll", access, "password", "123"), 403, "mfa_required")
	expect(h.t, h.post("POST", "/user/mfa/totp/confirm", access, "code", h.totp(pending, 0)), 403, "mfa_required")
}

// registration is a begun passkey registration and the authenticator to
// finish it with.
type registration struct {
	begin *httptest.ResponseRecorder
	a     *testkit.Authenticator
}

// factors is what GET /user/mfa says of the user.
func (h *harness) factors(access string) (totp bool, passkeys int) {
	h.t.Helper()
	st := h.mfaStatus(access)
	return st.TOTP, st.Passkeys
}

// TestAddingAFactorNeedsTheFactor: the password alone (a stolen one) cannot
// add a passkey or TOTP to a user who has a second factor, neither the
// first step nor the second (a ceremony begun by the real user's strong
// session is not finished by a password session); a session opened with
// the factor can. A user with no factor enrolls the first with the password:
// that is how an ADMIN_MFA=on admin starts, and once enrolled the password
// no longer reaches /admin by planting a second factor.
func TestAddingAFactorNeedsTheFactor(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		t.Run("passkey user", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			pwd := h.login().AccessToken
			a := testkit.NewAuthenticator(passkeyOrigin)
			h.addPasskey(pwd, a) // the first factor: the password is enough
			stolen := h.login().AccessToken
			if amr := amrOf(t, stolen); len(amr) != 1 || amr[0] != "pwd" {
				t.Fatalf("password login of a passkey user: amr %v", amr)
			}
			hwk := h.passkeySession(a).AccessToken
			begun := &registration{h.beginRegistration(hwk), testkit.NewAuthenticator(passkeyOrigin)}
			pending := h.enrollTOTP(hwk)
			for _, tok := range []string{pwd, stolen} {
				h.refusedFactors(tok, begun, pending)
			}
			if totp, n := h.factors(hwk); totp || n != 1 {
				t.Fatalf("after the refusals: totp %v, %d passkeys, want false, 1", totp, n)
			}
			// The passkey session finishes both.
			expect(t, h.finishRegistration(hwk, begun.begin, begun.a, testkit.Tweak{}), 201, "")
			expect(t, h.post("POST", "/user/mfa/totp/confirm", hwk, "code", h.totp(pending, 0)), 200, "")
			if totp, n := h.factors(hwk); !totp || n != 2 {
				t.Fatalf("after the passkey session: totp %v, %d passkeys, want true, 2", totp, n)
			}
		})
		t.Run("TOTP user", func(t *testing.T) {
			h := newHarness(t, b, mfaEnv)
			pwd := h.login().AccessToken
			secret, _ := h.enableTOTP(pwd) // the first factor; this session is kept, amr [pwd]
			otp := h.otpSession(secret).AccessToken
			begun := &registration{h.beginRegistration(otp), testkit.NewAuthenticator(passkeyOrigin)}
			h.refusedFactors(pwd, begun, secret)
			h.addPasskey(otp, testkit.NewAuthenticator(passkeyOrigin))
			expect(t, h.finishRegistration(otp, begun.begin, begun.a, testkit.Tweak{}), 201, "")
		})
		t.Run("ADMIN_MFA admin", func(t *testing.T) {
			h := newHarness(t, b, withEnv("ADMIN_MFA", "on"))
			pwd := h.admin(h.user, "123").AccessToken
			expect(t, h.adminDo(pwd, "GET", "/admin/users", ""), 403, "mfa_required")
			// No factor yet: the password alone enrolls the first (bootstrap).
			a := testkit.NewAuthenticator(passkeyOrigin)
			h.addPasskey(pwd, a)
			hwk := h.passkeySession(a).AccessToken
			expect(t, h.adminDo(hwk, "GET", "/admin/users", ""), 200, "")
			// The review's attack: the admin's password, a fresh session, the
			// attacker's own passkey or TOTP secret. Refused at every step.
			stolen := h.login().AccessToken
			begun := &registration{h.beginRegistration(hwk), testkit.NewAuthenticator(passkeyOrigin)}
			h.refusedFactors(stolen, begun, h.enrollTOTP(hwk))
			expect(t, h.adminDo(stolen, "GET", "/admin/users", ""), 403, "mfa_required")
			if totp, n := h.factors(hwk); totp || n != 1 {
				t.Fatalf("after the attack: totp %v, %d passkeys, want false, 1", totp, n)
			}
		})
	})
}
