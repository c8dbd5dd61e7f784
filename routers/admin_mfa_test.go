package routers_test

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

// The seams of the admin API (SPEC §10) and the second factor (§11).

// withEnv is mfaEnv with extra settings.
func withEnv(kv ...string) map[string]string {
	env := maps.Clone(mfaEnv)
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// adminRoutes calls every route of the /admin group with token (the path
// names victim), each answer checked by check.
func (h *harness) adminRoutes(token, victim string, check func(t *testing.T, method, path string, w *httptest.ResponseRecorder)) int {
	h.t.Helper()
	n := 0
	for _, r := range h.router.Routes() {
		if !strings.HasPrefix(r.Path, "/admin/") {
			continue
		}
		n++
		path := strings.ReplaceAll(r.Path, ":name", victim)
		w := h.do(req{method: r.Method, path: path, header: bearer(token), ctype: jsonType,
			body: `{"username":"` + victim + `-new","password":"long enough","roles":["admin"],"newPassword":"long enough"}`})
		check(h.t.(*testing.T), r.Method, path, w)
	}
	return n
}

// TestAdminMFA: with ADMIN_MFA=on, an admin whose access token was issued
// for the password alone (amr [pwd]) gets 403 mfa_required on every
// /admin route, and nothing changes, also after a refresh (rotation keeps
// amr: it cannot upgrade a token); the same admin after the TOTP second
// step (amr [pwd otp]) gets through. With ADMIN_MFA off the password-only
// token is enough.
func TestAdminMFA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		off := newHarness(t, b, withEnv("ADMIN_MFA", "off"))
		pwdOnly := off.admin(off.user, "123")
		off.enableTOTP(pwdOnly.AccessToken)
		expect(t, off.adminDo(pwdOnly.AccessToken, "GET", "/admin/users", ""), 200, "")
		expect(t, off.adminDo(pwdOnly.AccessToken, "GET", "/admin/users/"+off.user, ""), 200, "")

		h := newHarness(t, b, withEnv("ADMIN_MFA", "on"))
		pwdOnly = h.admin(h.user, "123")
		secret, _ := h.enableTOTP(pwdOnly.AccessToken) // confirming keeps this session, amr [pwd]
		victim := h.newUser()
		refused := func(tok string) {
			t.Helper()
			routes := h.adminRoutes(tok, victim, func(t *testing.T, method, path string, w *httptest.ResponseRecorder) {
				t.Helper()
				expect(t, w, 403, "mfa_required")
				if strings.Contains(w.Body.String(), "mfaToken") || w.Header().Get("WWW-Authenticate") != "" {
					t.Fatalf("%s %s: the ADMIN_MFA refusal %s (WWW-Authenticate %q): want no mfaToken, no scope challenge",
						method, path, w.Body, w.Header().Get("WWW-Authenticate"))
				}
			})
			if routes != 9 {
				t.Fatalf("%d admin routes, want 9", routes)
			}
		}
		refused(pwdOnly.AccessToken)
		refreshed, code := h.refresh(pwdOnly)
		if code != 200 || !slices.Equal(amrOf(t, refreshed.AccessToken), []string{"pwd"}) {
			t.Fatalf("refresh of the password-only session: %d, amr %v", code, amrOf(t, refreshed.AccessToken))
		}
		refused(refreshed.AccessToken)
		a, err := h.accounts.Get(t.Context(), victim)
		if err != nil || a.Locked || !slices.Equal(a.Roles, []string{"user"}) {
			t.Fatalf("refused requests changed %s: %+v %v", victim, a, err)
		}
		if _, err := h.accounts.Get(t.Context(), victim+"-new"); err == nil {
			t.Fatal("a refused create made a user")
		}

		// The second step: amr [pwd otp], and every admin route is open.
		strong := decodePair(t, h.secondStep(h.mfaChallenge(), "code", h.nextCode(secret)))
		if !slices.Equal(amrOf(t, strong.AccessToken), []string{"pwd", "otp"}) || !slices.Contains(rolesOf(t, strong.AccessToken), "admin") {
			t.Fatalf("second-step token amr %v roles %v", amrOf(t, strong.AccessToken), rolesOf(t, strong.AccessToken))
		}
		expect(t, h.adminDo(strong.AccessToken, "GET", "/admin/users", ""), 200, "")
		expect(t, h.adminDo(strong.AccessToken, "GET", "/admin/users/"+victim, ""), 200, "")
		expect(t, h.adminDo(strong.AccessToken, "POST", "/admin/users/"+victim+"/lock", ""), 204, "")
		expect(t, h.adminDo(strong.AccessToken, "POST", "/admin/users/"+victim+"/unlock", ""), 204, "")
		expect(t, h.adminDo(strong.AccessToken, "POST", "/admin/users", `{"username":"`+victim+`-new","password":"long enough"}`), 201, "")
		// And after a refresh (amr kept).
		next, code := h.refresh(strong)
		if code != 200 {
			t.Fatalf("refresh of the second-step session: %d", code)
		}
		expect(t, h.adminDo(next.AccessToken, "DELETE", "/admin/users/"+victim+"-new", ""), 204, "")
		// A role-less user with a second factor is still forbidden (the role
		// check comes first).
		expect(t, h.adminDo(h.loginAs(victim, "long+enough").AccessToken, "GET", "/admin/users", ""), 403, "forbidden")
	})
}

// TestAdminUserShowsMFA: the admin user object's "mfa" is true exactly
// while TOTP is on: not while an enrollment is pending, not after disable;
// in the listing, in GET, in the role change and in the create answers.
func TestAdminUserShowsMFA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		admin := h.newUser()
		tok := h.admin(admin, "long+enough").AccessToken
		get := func() adminUser {
			t.Helper()
			w := h.adminDo(tok, "GET", "/admin/users/"+h.user, "")
			expect(t, w, 200, "")
			var body struct{ User adminUser }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			return body.User
		}
		listed := func() map[string]bool { // every page: a shared Redis holds other tests' users
			t.Helper()
			out := map[string]bool{}
			for cursor, pages := "", 0; pages < 1000; pages++ {
				w := h.adminDo(tok, "GET", "/admin/users?limit=200&cursor="+cursor, "")
				expect(t, w, 200, "")
				var page struct {
					Users      []adminUser
					NextCursor string
				}
				if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
					t.Fatal(err)
				}
				for _, u := range page.Users {
					out[u.Username] = u.MFA
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if _, ok := out[h.user]; !ok {
				t.Fatalf("%s not listed", h.user)
			}
			return out
		}
		p := h.login()
		if get().MFA || listed()[h.user] {
			t.Fatal("mfa true before any enrollment")
		}
		expect(t, h.post("POST", "/user/mfa/totp/enroll", p.AccessToken, "password", "123"), 200, "")
		if get().MFA {
			t.Fatal("mfa true while the enrollment is only pending")
		}
		secret, rc := h.enableTOTP(p.AccessToken)
		if u := get(); !u.MFA || u.Username != h.user {
			t.Fatalf("GET after confirm: %+v, want mfa true", u)
		}
		if l := listed(); !l[h.user] || l[admin] {
			t.Fatalf("listing after confirm: %v, want mfa only for %s", l, h.user)
		}
		w := h.adminDo(tok, "PUT", "/admin/users/"+h.user+"/roles", `{"roles":["editor","user"]}`)
		expect(t, w, 200, "")
		if u := decodeUser(t, w); !u.MFA {
			t.Fatalf("role change answer %s: want mfa true", w.Body)
		}
		w = h.adminDo(tok, "POST", "/admin/users", `{"username":"`+admin+`-made","password":"long enough"}`)
		expect(t, w, 201, "")
		if u := decodeUser(t, w); u.MFA {
			t.Fatalf("create answer %s: want mfa false", w.Body)
		}
		// Off again (the session was cut by the role change: a new one).
		np := decodePair(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[0]))
		expect(t, h.post("DELETE", "/user/mfa/totp", np.AccessToken, "password", "123", "code", h.nextCode(secret)), 204, "")
		if get().MFA || listed()[h.user] {
			t.Fatal("mfa true after disable")
		}
	})
}

// TestDeletedTOTPUserRegisteredAgain: an admin deletes a user with TOTP on;
// whoever registers the name next inherits no second factor: the password
// login gives a pair directly, /user/mfa says totp false with no recovery
// codes, and the admin view says mfa false.
func TestDeletedTOTPUserRegisteredAgain(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		tok := h.admin(h.newUser(), "long+enough").AccessToken
		h.enableTOTP(h.login().AccessToken)
		h.mfaChallenge() // TOTP on: the password alone gets no pair
		expect(t, h.adminDo(tok, "DELETE", "/admin/users/"+h.user, ""), 204, "")

		if code := h.register(h.user, "a new owner"); code != 201 {
			t.Fatalf("register the deleted name: %d", code)
		}
		p := h.loginAs(h.user, "a+new+owner") // a pair, not 403 mfa_required
		if amr := amrOf(t, p.AccessToken); !slices.Equal(amr, []string{"pwd"}) {
			t.Fatalf("the new owner's amr %v", amr)
		}
		if st := h.mfaStatus(p.AccessToken); st != (mfaStatus{}) {
			t.Fatalf("the new owner's second factor %+v, want none", st)
		}
		w := h.adminDo(tok, "GET", "/admin/users/"+h.user, "")
		expect(t, w, 200, "")
		if strings.Contains(w.Body.String(), `"mfa":true`) {
			t.Fatalf("the admin view of the new owner: %s", w.Body)
		}
	})
}

// TestAccountChangesBetweenTheLoginSteps: a user locked after the right
// password, before the second step, gets 403 account_locked from
// /public/login/mfa and no pair; its roles changed, or deleted (and the
// name registered again) in between, 401 invalid_token: the mfaToken is
// bound to the account version whose password was checked. None of these
// costs the user a recovery code.
func TestAccountChangesBetweenTheLoginSteps(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		tok := h.admin(h.newUser(), "long+enough").AccessToken
		p := h.login()
		secret, rc := h.enableTOTP(p.AccessToken)

		ch := h.mfaChallenge()
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+h.user+"/lock", ""), 204, "")
		for _, try := range [][2]string{{"code", h.nextCode(secret)}, {"recoveryCode", rc[0]}} {
			w := h.secondStep(ch, try[0], try[1])
			expect(t, w, 403, "account_locked")
			if strings.Contains(w.Body.String(), "accessToken") {
				t.Fatalf("a locked account's second step: %s", w.Body)
			}
		}
		if !strings.Contains(h.log.String(), "login refused: account locked") {
			t.Fatal("the locked second step is not a security event in the log")
		}
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+h.user+"/unlock", ""), 204, "")
		np := decodePair(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[0]))
		if st := h.mfaStatus(np.AccessToken); st.RecoveryCodesLeft != 9 {
			t.Fatalf("%d recovery codes left after the locked attempt and one login, want 9", st.RecoveryCodesLeft)
		}

		// A change of the account in between (here its roles; a lock or a
		// password reset alike): log in again.
		reset := h.mfaChallenge()
		if _, err := h.accounts.SetRoles(t.Context(), h.user, []string{"editor", "user"}); err != nil {
			t.Fatal(err)
		}
		expect(t, h.secondStep(reset, "code", h.nextCode(secret)), 401, "invalid_token")

		gone, again := h.mfaChallenge(), h.mfaChallenge()
		expect(t, h.adminDo(tok, "DELETE", "/admin/users/"+h.user, ""), 204, "")
		expect(t, h.secondStep(gone, "code", h.nextCode(secret)), 401, "invalid_token")
		expect(t, h.secondStep(gone, "recoveryCode", rc[1]), 401, "invalid_token")
		// The name registered again meanwhile: a challenge of the old
		// account is no way into the new one.
		if code := h.register(h.user, "a new owner"); code != 201 {
			t.Fatalf("register the deleted name: %d", code)
		}
		expect(t, h.secondStep(again, "code", h.nextCode(secret)), 401, "invalid_token")
		expect(t, h.secondStep(again, "recoveryCode", rc[2]), 401, "invalid_token")
	})
}

// TestRoleChangeKeepsAMR: a role change after a two-step login cuts the
// access token; the refreshed one carries the new roles and still the
// login's amr [pwd otp] (so with ADMIN_MFA=on a promotion reaches /admin
// at the next refresh, without a new login).
func TestRoleChangeKeepsAMR(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, withEnv("ADMIN_MFA", "on"))
		secret, _ := h.enableTOTP(h.login().AccessToken)
		mp := decodePair(t, h.secondStep(h.mfaChallenge(), "code", h.nextCode(secret)))
		expect(t, h.adminDo(mp.AccessToken, "GET", "/admin/users", ""), 403, "forbidden")

		if _, err := h.accounts.SetRoles(t.Context(), h.user, []string{"admin", "user"}); err != nil { // `go-jwt user roles`
			t.Fatal(err)
		}
		if got := h.welcomeStatus(mp.AccessToken); got != 401 {
			t.Fatalf("the access token issued before the role change: %d, want 401", got)
		}
		next, code := h.refresh(mp)
		if code != 200 {
			t.Fatalf("refresh after the role change: %d", code)
		}
		for _, tok := range []string{next.AccessToken, next.RefreshToken} {
			if amr := amrOf(t, tok); !slices.Equal(amr, []string{"pwd", "otp"}) {
				t.Fatalf("refreshed token amr %v, want [pwd otp]", amr)
			}
		}
		if roles := rolesOf(t, next.AccessToken); !slices.Equal(roles, []string{"admin", "user"}) {
			t.Fatalf("refreshed roles %v", roles)
		}
		expect(t, h.adminDo(next.AccessToken, "GET", "/admin/users", ""), 200, "")
	})
}
