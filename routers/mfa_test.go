package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/mfa"
)

// mfaEnv is the harness settings of the second-factor tests: budgets wide
// enough for the wrong codes they send on purpose.
var mfaEnv = map[string]string{"LOGIN_USER_RATE": "1000", "LOGIN_USER_BURST": "1000", "LOGIN_IP_RATE": "1000", "LOGIN_IP_BURST": "1000",
	"INTROSPECT_SECRET": introspectSecret}

func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// post sends a JSON body with the access token tok ("": none).
func (h *harness) post(method, path, tok string, kv ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := req{method: method, path: path, body: jsonBody(kv...), ctype: "application/json"}
	if tok != "" {
		r.header = bearer(tok)
	}
	return h.do(r)
}

// totp is the code of secret at the harness clock plus offset; every code
// a test sends is checked against the run's log.
func (h *harness) totp(secret string, offset time.Duration) string {
	h.t.Helper()
	c, err := mfa.Code(secret, h.clock.Now().Add(offset))
	if err != nil {
		h.t.Fatal(err)
	}
	codes.add(c)
	return c
}

// nextCode moves the clock to the next time step and returns its code: a
// code is accepted once, so each use needs a step of its own.
func (h *harness) nextCode(secret string) string {
	h.clock.Advance(mfa.Period)
	return h.totp(secret, 0)
}

// enableTOTP turns TOTP on for the harness user, signed in with access:
// the secret and the recovery codes.
func (h *harness) enableTOTP(access string) (string, []string) {
	h.t.Helper()
	w := h.post("POST", "/user/mfa/totp/enroll", access, "password", "123")
	expect(h.t, w, 200, "")
	var e struct{ Secret, URI, QRPNG string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Secret == "" {
		h.t.Fatalf("enroll: %s", w.Body)
	}
	secrets.add(e.Secret)
	w = h.post("POST", "/user/mfa/totp/confirm", access, "code", h.totp(e.Secret, 0))
	expect(h.t, w, 200, "")
	return e.Secret, recoveryCodes(h.t, w)
}

func recoveryCodes(t testing.TB, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var body struct{ RecoveryCodes []string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes: %s", w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("recovery codes answer Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	secrets.add(body.RecoveryCodes...)
	return body.RecoveryCodes
}

// mfaChallenge logs in with the right password of a user with TOTP on:
// 403 mfa_required with an mfaToken and no token pair.
func (h *harness) mfaChallenge() string {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form})
	expect(h.t, w, 403, "mfa_required")
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	tok, _ := body["mfaToken"].(string)
	methods, _ := json.Marshal(body["methods"])
	if tok == "" || string(methods) != `["totp","recovery_code"]` || body["accessToken"] != nil || body["refreshToken"] != nil {
		h.t.Fatalf("mfa_required answer %s", w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		h.t.Fatalf("mfa_required Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	given.add(tok)
	return tok
}

// secondStep sends the mfaToken with a code ("code") or a recovery code
// ("recoveryCode").
func (h *harness) secondStep(tok, field, code string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.post("POST", "/public/login/mfa", "", "mfaToken", tok, field, code)
}

// claimsOf decodes a token's payload (its signature is the service's
// business; the tests read what it says).
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c
}

func amrOf(t testing.TB, tok string) []string {
	t.Helper()
	var out []string
	list, _ := claimsOf(t, tok)["amr"].([]any)
	for _, m := range list {
		s, _ := m.(string)
		out = append(out, s)
	}
	return out
}

type mfaStatus struct {
	TOTP              bool `json:"totp"`
	RecoveryCodesLeft int  `json:"recoveryCodesLeft"`
	Passkeys          int  `json:"passkeys"`
}

func (h *harness) mfaStatus(access string) mfaStatus {
	h.t.Helper()
	w := h.do(req{method: "GET", path: "/user/mfa", header: bearer(access)})
	expect(h.t, w, 200, "")
	var st mfaStatus
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// sessionAMR lists the user's sessions: amr by session id.
func (h *harness) sessionAMR(access string) map[string][]string {
	h.t.Helper()
	w := h.do(req{method: "GET", path: "/user/sessions", header: bearer(access)})
	expect(h.t, w, 200, "")
	var body struct {
		Sessions []struct {
			ID  string   `json:"id"`
			AMR []string `json:"amr"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		h.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range body.Sessions {
		out[s.ID] = s.AMR
	}
	return out
}

// TestTwoFactorLifecycle walks a user through §11: enroll (pending), confirm
// (other sessions revoked, recovery codes), the two-step login with a code
// and with a recovery code, amr everywhere, rotation keeping it, new
// recovery codes, disable.
func TestTwoFactorLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, mfaEnv)
		p, other := h.login(), h.login()
		if amr := amrOf(t, p.AccessToken); !slices.Equal(amr, []string{"pwd"}) {
			t.Fatalf("password login amr %v, want [pwd]", amr)
		}
		if st := h.mfaStatus(p.AccessToken); st != (mfaStatus{}) {
			t.Fatalf("status before enrollment %+v", st)
		}

		w := h.post("POST", "/user/mfa/totp/enroll", p.AccessToken, "password", "123")
		expect(t, w, 200, "")
		var e struct{ Secret, URI, QRPNG string }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		secrets.add(e.Secret)
		if w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(e.URI, "issuer=jwt-demo") ||
			!strings.HasPrefix(e.URI, "otpauth://totp/jwt-demo:"+h.user+"?") || !strings.HasPrefix(e.QRPNG, "data:image/png;base64,") {
			t.Fatalf("enrollment %s, Cache-Control %q", w.Body, w.Header().Get("Cache-Control"))
		}
		if st := h.mfaStatus(p.AccessToken); st.TOTP {
			t.Fatal("totp true while the enrollment is only pending")
		}
		// A password login still gets a pair while only pending.
		pending := h.login()

		w = h.post("POST", "/user/mfa/totp/confirm", p.AccessToken, "code", h.totp(e.Secret, 0))
		expect(t, w, 200, "")
		rc := recoveryCodes(t, w)
		for _, gone := range []string{other.AccessToken, pending.AccessToken} {
			expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(gone)}), 401, "invalid_token")
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 200, "Welcome ! "+h.user)
		if st := h.mfaStatus(p.AccessToken); st != (mfaStatus{TOTP: true, RecoveryCodesLeft: 10}) {
			t.Fatalf("status after confirm %+v", st)
		}

		// Two-step login with a TOTP code.
		tok := h.mfaChallenge()
		w = h.secondStep(tok, "code", h.nextCode(e.Secret))
		mp := decodePair(t, w)
		if amr := amrOf(t, mp.AccessToken); !slices.Equal(amr, []string{"pwd", "otp"}) || !slices.Equal(amrOf(t, mp.RefreshToken), amr) {
			t.Fatalf("second-step amr %v, want [pwd otp] in both tokens", amr)
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(mp.AccessToken)}), 200, "Welcome ! "+h.user)
		active(t, h.introspect(mp.AccessToken), "access", h.user)
		if got := h.introspect(mp.AccessToken)["amr"]; !slices.Equal(toStrings(got), []string{"pwd", "otp"}) {
			t.Fatalf("introspection amr %v", got)
		}
		me := h.do(req{method: "GET", path: "/user/me", header: bearer(mp.AccessToken)})
		expect(t, me, 200, "")
		if !strings.Contains(me.Body.String(), `"amr":["pwd","otp"]`) {
			t.Fatalf("/user/me %s: want the session's amr", me.Body)
		}
		mpSID, _ := claimsOf(t, mp.AccessToken)["sid"].(string)
		pSID, _ := claimsOf(t, p.AccessToken)["sid"].(string)
		if list := h.sessionAMR(mp.AccessToken); !slices.Equal(list[mpSID], []string{"pwd", "otp"}) || !slices.Equal(list[pSID], []string{"pwd"}) {
			t.Fatalf("sessions amr %v", list)
		}

		// Rotation keeps amr and auth_time.
		h.clock.Advance(time.Minute)
		np := decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(mp.RefreshToken)}))
		if !slices.Equal(amrOf(t, np.AccessToken), []string{"pwd", "otp"}) || claimsOf(t, np.AccessToken)["auth_time"] != claimsOf(t, mp.AccessToken)["auth_time"] {
			t.Fatalf("rotated token amr %v auth_time %v", amrOf(t, np.AccessToken), claimsOf(t, np.AccessToken)["auth_time"])
		}
		if list := h.sessionAMR(np.AccessToken); !slices.Equal(list[mpSID], []string{"pwd", "otp"}) {
			t.Fatalf("sessions amr after rotation %v", list)
		}

		// With a recovery code, in either field; each works once.
		decodePair(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[0]))
		decodePair(t, h.secondStep(h.mfaChallenge(), "code", strings.ToLower(rc[1])))
		expect(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[0]), 401, "invalid_credentials")
		if st := h.mfaStatus(np.AccessToken); st.RecoveryCodesLeft != 8 {
			t.Fatalf("%d recovery codes left, want 8", st.RecoveryCodesLeft)
		}

		// A new set: the old one stops working.
		w = h.post("POST", "/user/mfa/recovery-codes", np.AccessToken, "password", "123", "code", h.nextCode(e.Secret))
		expect(t, w, 200, "")
		fresh := recoveryCodes(t, w)
		expect(t, h.secondStep(h.mfaChallenge(), "recoveryCode", rc[2]), 401, "invalid_credentials")
		decodePair(t, h.secondStep(h.mfaChallenge(), "recoveryCode", fresh[0]))

		// Off: a password login gets its pair again, amr [pwd].
		w = h.post("DELETE", "/user/mfa/totp", np.AccessToken, "password", "123", "code", fresh[1])
		expect(t, w, 204, "")
		if st := h.mfaStatus(np.AccessToken); st != (mfaStatus{}) {
			t.Fatalf("status after disable %+v", st)
		}
		if amr := amrOf(t, h.login().AccessToken); !slices.Equal(amr, []string{"pwd"}) {
			t.Fatalf("login after disable amr %v", amr)
		}
	})
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
