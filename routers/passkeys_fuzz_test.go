package routers_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/test/testkit"
)

// FuzzPasskeyFinish sends arbitrary bodies to both passkey finishes through
// the production router: WebAuthn credentials are nested JSON with base64url
// CBOR inside, parsed by a library from whoever sends them. Never a 5xx or a
// panic, every error the JSON error body, and a success only for a genuine
// ceremony made by this process's software authenticator.
//
//	go test -run '^$' -fuzz '^FuzzPasskeyFinish$' -fuzztime 60s ./routers/
func FuzzPasskeyFinish(f *testing.F) {
	m := miniredis.RunT(f)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	f.Cleanup(func() { _ = rdb.Close() })
	h := newHarness(f, testkit.Backend{Name: "miniredis", Client: rdb, Mini: m}, map[string]string{
		"DEMO_USER":     fuzzUser + ":" + fuzzPassword,
		"LOGIN_IP_RATE": "1000000", "LOGIN_IP_BURST": "1000000",
	})
	access := h.login().AccessToken
	a := testkit.NewAuthenticator(passkeyOrigin)
	h.addPasskey(access, a)
	access = h.passkeySession(a).AccessToken // another passkey needs a session opened with one

	// genuine are the bodies of live ceremonies this process made: the only
	// ones that may succeed (each once).
	genuine := map[string]bool{}
	signIn := h.beginSignIn()
	login := marshalBody(f, map[string]any{"challengeId": challengeID(f, signIn), "credential": json.RawMessage(a.Get(f, signIn.Body.Bytes(), testkit.Tweak{}))})
	reg := h.beginRegistration(access)
	register := marshalBody(f, map[string]any{"challengeId": challengeID(f, reg), "name": "fuzz",
		"credential": json.RawMessage(testkit.NewAuthenticator(passkeyOrigin).Create(f, reg.Body.Bytes(), testkit.Tweak{}))})
	genuine[login], genuine[register] = true, true
	for _, s := range []struct {
		route uint8
		body  string
	}{
		{0, login}, {1, register},
		{0, `{"challengeId":"x","credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AA"}}}`},
		{1, `{"challengeId":"x","credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`},
		{0, `{"challengeId":"x","credential":null}`},
		{0, `{"challengeId":1,"credential":{}}`},
		{1, `{"challengeId":"x","name":"` + "\u0000" + `","credential":{}}`},
		{0, `{}`}, {0, `[]`}, {1, `{"a":1}{}`},
	} {
		f.Add(s.route, []byte(s.body))
	}
	routes := [...]struct {
		path   string
		header map[string]string
		ok     int
	}{
		{"/public/passkeys/login/finish", nil, http.StatusOK},
		{"/user/passkeys/register/finish", bearer(access), http.StatusCreated},
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		th := *h // the harness on t: f's methods must not be called from here
		th.t = t
		th.log.Reset()
		w := th.do(req{method: "POST", path: rt.path, body: string(body), ctype: jsonType, header: rt.header})
		switch {
		case w.Code >= 500:
			t.Fatalf("%d for %s %q: %s", w.Code, rt.path, body, w.Body)
		case w.Code < 300 && (w.Code != rt.ok || !genuine[string(body)]):
			t.Fatalf("%d for %s %q, which is no genuine ceremony of this process", w.Code, rt.path, body)
		case w.Code >= 400:
			var e struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("%d with body %q: not a JSON error", w.Code, w.Body)
			}
		}
		delete(genuine, string(body)) // a ceremony succeeds once
	})
}
