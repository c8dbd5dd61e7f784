package routers_test

import (
	"encoding/json"
	"strings"
	"testing"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils/passkey"
)

func TestPasskeyRegistrationRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		o := newHarness(t, b, nil) // another user, same Redis
		other := o.login()
		a := testkit.NewAuthenticator(passkeyOrigin)
		// The password is asked again; a wrong one is 403, charged like a login.
		expect(t, h.do(req{method: "POST", path: "/user/passkeys/register/begin", body: `{"password":"wrong"}`, ctype: jsonType,
			header: bearer(p.AccessToken)}), 403, "invalid_credentials")
		expect(t, h.do(req{method: "POST", path: "/user/passkeys/register/begin", body: `{}`, ctype: jsonType,
			header: bearer(p.AccessToken)}), 400, "invalid_request")
		for _, tt := range []struct {
			name string
			tw   testkit.Tweak
		}{
			{"wrong origin", testkit.Tweak{Origin: "https://evil.example"}},
			{"RP ID mismatch", testkit.Tweak{RPID: "evil.example"}},
			{"user not verified", testkit.Tweak{NoUV: true}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				expect(t, h.finishRegistration(p.AccessToken, h.beginRegistration(p.AccessToken), a, tt.tw), 400, "invalid_request")
			})
		}
		// Another user can neither finish this user's ceremony nor spend it
		// (ceremonies are looked up under the caller's name); its owner can,
		// once.
		begin := h.beginRegistration(p.AccessToken)
		expect(t, h.finishRegistration(other.AccessToken, begin, a, testkit.Tweak{}), 400, "invalid_request")
		expect(t, o.do(req{method: "GET", path: "/user/passkeys", header: bearer(other.AccessToken)}), 200, `{"passkeys":[]}`)
		expect(t, h.finishRegistration(p.AccessToken, begin, a, testkit.Tweak{}), 201, "")
		// With a passkey now, more need a session opened with one (StepUp).
		hwk := h.passkeySession(a).AccessToken
		expect(t, h.finishRegistration(hwk, begin, a, testkit.Tweak{}), 400, "invalid_request")
		// Bodies that are not a ceremony.
		for _, body := range []string{`{"challengeId":"x"}`, `{"credential":{}}`, `{"challengeId":"x","credential":{"id":"garbage"}}`, `[]`} {
			expect(t, h.do(req{method: "POST", path: "/user/passkeys/register/finish", body: body, ctype: jsonType, header: bearer(hwk)}),
				400, "invalid_request")
		}
		expect(t, h.do(req{method: "POST", path: "/user/passkeys/register/finish", body: "challengeId=x", ctype: form, header: bearer(p.AccessToken)}),
			415, "invalid_request")
		w := h.do(req{method: "GET", path: "/user/passkeys", header: bearer(p.AccessToken)})
		var list struct{ Passkeys []passkey.Passkey }
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Passkeys) != 1 {
			t.Fatalf("passkeys after the refusals: %s", w.Body)
		}
	})
}

func TestPasskeyDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		other := newHarness(t, b, nil)
		q := other.login()
		a, c := testkit.NewAuthenticator(passkeyOrigin), testkit.NewAuthenticator(passkeyOrigin)
		id := h.addPasskey(p.AccessToken, a)
		other.addPasskey(q.AccessToken, c)

		// Another user's credential id: 404, and it keeps working.
		expect(t, other.do(req{method: "DELETE", path: "/user/passkeys/" + id, header: bearer(q.AccessToken)}), 404, "not_found")
		decodePair(t, h.signIn(a, testkit.Tweak{}))
		for _, bad := range []string{"not+base64", strings.Repeat("A", 1400)} {
			expect(t, h.do(req{method: "DELETE", path: "/user/passkeys/" + bad, header: bearer(p.AccessToken)}), 404, "not_found")
		}

		// Deleted: the next sign-in with it is refused, another user's
		// passkey is untouched.
		expect(t, h.do(req{method: "DELETE", path: "/user/passkeys/" + id, header: bearer(p.AccessToken)}), 204, "")
		expect(t, h.signIn(a, testkit.Tweak{}), 401, "invalid_credentials")
		expect(t, h.do(req{method: "DELETE", path: "/user/passkeys/" + id, header: bearer(p.AccessToken)}), 404, "not_found")
		decodePair(t, other.signIn(c, testkit.Tweak{}))
	})
}

// TestPasskeyOfDeletedUser: a passkey that outlived its user (the user's
// record gone, its passkeys not) signs nobody in.
func TestPasskeyOfDeletedUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		a := testkit.NewAuthenticator(passkeyOrigin)
		h.addPasskey(h.login().AccessToken, a)
		if err := b.Client.Del(t.Context(), global.KeyUser+"{"+h.user+"}").Err(); err != nil {
			t.Fatal(err)
		}
		expect(t, h.signIn(a, testkit.Tweak{}), 401, "invalid_credentials")
	})
}

func TestTooManyPasskeys(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	first := testkit.NewAuthenticator(passkeyOrigin)
	h.addPasskey(h.login().AccessToken, first)
	access := h.passkeySession(first).AccessToken // more need a session opened with one
	for range passkey.MaxPerUser - 1 {
		h.addPasskey(access, testkit.NewAuthenticator(passkeyOrigin))
	}
	w := h.do(req{method: "POST", path: "/user/passkeys/register/begin", body: `{"password":"123"}`, ctype: jsonType, header: bearer(access)})
	expect(t, w, 409, "conflict")
}

// TestPasskeyPasswordIsBudgeted: the password re-entered to add a passkey
// spends the login failure budget, so a stolen access token is no oracle
// for guessing it.
func TestPasskeyPasswordIsBudgeted(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"LOGIN_USER_RATE": "1", "LOGIN_USER_BURST": "1"})
	p := h.login()
	wrong := req{method: "POST", path: "/user/passkeys/register/begin", body: `{"password":"wrong"}`, ctype: jsonType, header: bearer(p.AccessToken)}
	expect(t, h.do(wrong), 403, "invalid_credentials")
	expect(t, h.do(wrong), 429, "rate_limited")
	// The password login is refused too: one budget.
	expect(t, h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form}), 429, "rate_limited")
}
