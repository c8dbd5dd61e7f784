package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/passkey"
)

// passkeyOrigin is the page origin of the default WEBAUTHN_ORIGINS; the RP
// ID is localhost.
const passkeyOrigin = "http://localhost:9090"

func marshalBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// challengeID reads the challengeId of a begin answer.
func challengeID(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var c struct {
		ID string `json:"challengeId"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.ID == "" {
		t.Fatalf("begin answer without challengeId: %s", w.Body)
	}
	return c.ID
}

// beginRegistration begins adding a passkey for the session of access.
func (h *harness) beginRegistration(access string) *httptest.ResponseRecorder {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/user/passkeys/register/begin", body: `{"password":"123"}`, ctype: jsonType, header: bearer(access)})
	expect(h.t, w, 200, "")
	return w
}

// finishRegistration finishes the ceremony begin with a's new credential.
func (h *harness) finishRegistration(access string, begin *httptest.ResponseRecorder, a *testkit.Authenticator, tw testkit.Tweak) *httptest.ResponseRecorder {
	h.t.Helper()
	cred := a.Create(h.t, begin.Body.Bytes(), tw)
	body := marshalBody(h.t, map[string]any{"challengeId": challengeID(h.t, begin), "name": "laptop", "credential": json.RawMessage(cred)})
	return h.do(req{method: "POST", path: "/user/passkeys/register/finish", body: body, ctype: jsonType, header: bearer(access)})
}

// addPasskey registers a new passkey of a for the session of access: its id.
func (h *harness) addPasskey(access string, a *testkit.Authenticator) string {
	h.t.Helper()
	w := h.finishRegistration(access, h.beginRegistration(access), a, testkit.Tweak{})
	expect(h.t, w, 201, "")
	var p passkey.Passkey
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.ID == "" {
		h.t.Fatalf("registration answer %s: %v", w.Body, err)
	}
	return p.ID
}

// beginSignIn begins a passkey sign-in.
func (h *harness) beginSignIn() *httptest.ResponseRecorder {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/public/passkeys/login/begin"})
	expect(h.t, w, 200, "")
	return w
}

// finishSignIn sends credential for the ceremony begin.
func (h *harness) finishSignIn(begin *httptest.ResponseRecorder, credential []byte) *httptest.ResponseRecorder {
	h.t.Helper()
	body := marshalBody(h.t, map[string]any{"challengeId": challengeID(h.t, begin), "credential": json.RawMessage(credential)})
	return h.do(req{method: "POST", path: "/public/passkeys/login/finish", body: body, ctype: jsonType})
}

// signIn runs a whole passkey sign-in with a, tweaked.
func (h *harness) signIn(a *testkit.Authenticator, tw testkit.Tweak) *httptest.ResponseRecorder {
	h.t.Helper()
	begin := h.beginSignIn()
	return h.finishSignIn(begin, a.Get(h.t, begin.Body.Bytes(), tw))
}

// payload decodes a token's claims (unverified: the service signed it).
func payload(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return claims
}

func amrJSON(t testing.TB, token string) string {
	t.Helper()
	amr, _ := json.Marshal(payload(t, token)["amr"])
	return string(amr)
}

func TestPasskeySignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		a := testkit.NewAuthenticator(passkeyOrigin)

		begin := h.beginRegistration(p.AccessToken)
		var opts struct {
			PublicKey struct {
				RP                     struct{ ID, Name string }
				User                   struct{ Name string }
				AuthenticatorSelection struct{ ResidentKey, UserVerification string }
				Attestation            string
			}
		}
		if err := json.Unmarshal(begin.Body.Bytes(), &opts); err != nil {
			t.Fatal(err)
		}
		if o := opts.PublicKey; o.RP.ID != "localhost" || o.RP.Name != "go-jwt" || o.User.Name != h.user ||
			o.AuthenticatorSelection.ResidentKey != "required" || o.AuthenticatorSelection.UserVerification != "required" || o.Attestation != "none" {
			t.Fatalf("creation options %+v", o)
		}
		w := h.finishRegistration(p.AccessToken, begin, a, testkit.Tweak{})
		expect(t, w, 201, "")
		id := base64.RawURLEncoding.EncodeToString(a.Creds[0].ID)
		if !strings.Contains(w.Body.String(), `"id":"`+id+`"`) || !strings.Contains(w.Body.String(), `"name":"laptop"`) {
			t.Fatalf("registration answer %s", w.Body)
		}

		// Usernameless: the options name no credential and need user verification.
		login := h.beginSignIn()
		if s := login.Body.String(); strings.Contains(s, "allowCredentials") || !strings.Contains(s, `"userVerification":"required"`) ||
			!strings.Contains(s, `"rpId":"localhost"`) {
			t.Fatalf("request options %s", s)
		}
		h.clock.Advance(time.Minute)
		pair := decodePair(t, h.finishSignIn(login, a.Get(t, login.Body.Bytes(), testkit.Tweak{})))
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(pair.AccessToken)}), 200, "Welcome ! "+h.user)
		if got := amrJSON(t, pair.AccessToken); got != `["hwk"]` {
			t.Fatalf("access token amr %s, want [\"hwk\"]", got)
		}
		// Rotation keeps amr.
		next := decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(pair.RefreshToken)}))
		if got := amrJSON(t, next.AccessToken); got != `["hwk"]` {
			t.Fatalf("amr after a refresh %s", got)
		}
		// A password login says nothing of hwk.
		if got := amrJSON(t, p.AccessToken); strings.Contains(got, "hwk") {
			t.Fatalf("password login amr %s", got)
		}

		w = h.do(req{method: "GET", path: "/user/passkeys", header: bearer(p.AccessToken)})
		expect(t, w, 200, "")
		var list struct{ Passkeys []passkey.Passkey }
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Passkeys) != 1 || list.Passkeys[0].ID != id ||
			list.Passkeys[0].LastUsedAt == nil || !list.Passkeys[0].LastUsedAt.Equal(h.clock.Now()) {
			t.Fatalf("passkeys %s", w.Body)
		}
	})
}

// TestPasskeySignInRefused: every way an assertion can be wrong gets the
// same 401 invalid_credentials, and the genuine passkey still works after.
func TestPasskeySignInRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		a := testkit.NewAuthenticator(passkeyOrigin)
		h.addPasskey(p.AccessToken, a)
		hwk := decodePair(t, h.signIn(a, testkit.Tweak{})) // the counter stands at 1
		zero, one := uint32(0), uint32(1)
		stranger := testkit.NewAuthenticator(passkeyOrigin) // a passkey made for another service
		stranger.Create(t, h.beginRegistration(hwk.AccessToken).Body.Bytes(), testkit.Tweak{})
		tests := []struct {
			name string
			a    *testkit.Authenticator
			tw   testkit.Tweak
		}{
			{"wrong origin (phishing page)", a, testkit.Tweak{Origin: "https://localhost.evil.example"}},
			{"origin on another port", a, testkit.Tweak{Origin: "http://localhost:9091"}},
			{"RP ID mismatch", a, testkit.Tweak{RPID: "evil.example"}},
			{"user not verified", a, testkit.Tweak{NoUV: true}},
			{"bad signature", a, testkit.Tweak{BadSignature: true}},
			{"sign count gone back", a, testkit.Tweak{Count: &zero}},
			{"sign count standing still (cloned authenticator)", a, testkit.Tweak{Count: &one}},
			{"unknown credential", stranger, testkit.Tweak{}},
			{"signed for another challenge", a, testkit.Tweak{Challenge: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				expect(t, h.signIn(tt.a, tt.tw), 401, "invalid_credentials")
			})
		}
		// Replayed challenge: the same good assertion twice.
		begin := h.beginSignIn()
		good := a.Get(t, begin.Body.Bytes(), testkit.Tweak{})
		decodePair(t, h.finishSignIn(begin, good))
		expect(t, h.finishSignIn(begin, good), 401, "invalid_credentials")
		// A fresh assertion for a spent challenge.
		expect(t, h.finishSignIn(begin, a.Get(t, begin.Body.Bytes(), testkit.Tweak{})), 401, "invalid_credentials")
		decodePair(t, h.signIn(a, testkit.Tweak{}))
		if !strings.Contains(h.log.String(), "passkey sign-in refused") {
			t.Fatal("refusals are not logged as security events")
		}
	})
}

// TestPasskeyCeremonyExpires: a challenge is good for 5 minutes (miniredis:
// its clock is moved, not waited for).
func TestPasskeyCeremonyExpires(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil)
	p := h.login()
	a := testkit.NewAuthenticator(passkeyOrigin)

	begin := h.beginRegistration(p.AccessToken)
	b.Mini.FastForward(passkey.CeremonyTTL + time.Second)
	expect(t, h.finishRegistration(p.AccessToken, begin, a, testkit.Tweak{}), 400, "invalid_request")
	a.Creds = nil

	h.addPasskey(p.AccessToken, a)
	login := h.beginSignIn()
	b.Mini.FastForward(passkey.CeremonyTTL - time.Second)
	still := h.beginSignIn()
	b.Mini.FastForward(2 * time.Second)
	expect(t, h.finishSignIn(login, a.Get(t, login.Body.Bytes(), testkit.Tweak{})), 401, "invalid_credentials")
	decodePair(t, h.finishSignIn(still, a.Get(t, still.Body.Bytes(), testkit.Tweak{})))
}

// TestPasskeySignInBeginIsBudgeted: each begin keeps state in Redis, so
// each spends a unit of the client IP's budget.
func TestPasskeySignInBeginIsBudgeted(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"LOGIN_IP_RATE": "1", "LOGIN_IP_BURST": "2"})
	h.beginSignIn()
	h.beginSignIn()
	w := h.do(req{method: "POST", path: "/public/passkeys/login/begin"})
	expect(t, w, 429, "rate_limited")
}

// TestPasskeyConfigOrigins: a site on a real domain with two origins; a page
// of another subdomain is refused.
func TestPasskeyConfigOrigins(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{
		"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://app.example.com,https://example.com"})
	p := h.login()
	a := testkit.NewAuthenticator("https://app.example.com")
	h.addPasskey(p.AccessToken, a)
	decodePair(t, h.signIn(a, testkit.Tweak{}))
	decodePair(t, h.signIn(a, testkit.Tweak{Origin: "https://example.com"}))
	expect(t, h.signIn(a, testkit.Tweak{Origin: "https://blog.example.com"}), 401, "invalid_credentials")
}

func TestPasskeyRedisDownIs503(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil)
	p := h.login()
	a := testkit.NewAuthenticator(passkeyOrigin)
	h.addPasskey(p.AccessToken, a)
	begin := h.beginSignIn()
	cred := a.Get(t, begin.Body.Bytes(), testkit.Tweak{})
	before := h.log.Len()
	b.Mini.Close()
	for _, w := range []*httptest.ResponseRecorder{
		h.finishSignIn(begin, cred),
		h.do(req{method: "POST", path: "/public/passkeys/login/begin"}),
		h.do(req{method: "GET", path: "/user/passkeys", header: bearer(p.AccessToken)}),
	} {
		expect(t, w, 503, "unavailable")
	}
	if strings.Contains(h.log.String()[before:], "passkey sign-in refused") {
		t.Fatal("an outage was logged as a refused passkey")
	}
}
