package routers_test

import (
	"net/http/httptest"
	"testing"

	"go-jwt/test/testkit"
)

// The request a trusted proxy asks /auth/verify about in these tests: the
// client called GET https://app.example.com/orders/7?x=1 at the proxy.
const (
	appOrigin = "https://app.example.com"
	appPath   = "/orders/7"
)

// forwardedFor is what nginx's auth subrequest adds (examples/gateway):
// the client's method and URI, scheme and host.
func forwardedFor(method, uri string) map[string]string {
	return map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": uri,
		"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}
}

// appProof is a proof by p for method on appOrigin+appPath, as a client
// of the proxied app signs it.
func (p *prover) appProof(method, token string) string {
	p.t.Helper()
	s, err := p.c.Proof(method, appOrigin+appPath, token, "")
	if err != nil {
		p.t.Fatal(err)
	}
	given.add(s)
	return s
}

// proxyVerify is GET /auth/verify+query from peer with the headers of
// each map.
func (h *harness) proxyVerify(peer, query string, headers ...map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest("GET", "/auth/verify"+query, nil)
	r.RemoteAddr = peer + ":40000"
	for _, hd := range headers {
		for k, v := range hd {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.router.ServeHTTP(w, r)
	checkResponse(h.t, r, w)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		h.t.Fatalf("/auth/verify: %d with Cache-Control %q, want no-store", w.Code, got)
	}
	return w
}

// proxiedHarness is a harness whose own client address is its one
// TRUSTED_PROXIES entry: h.do comes from the proxy.
func proxiedHarness(t *testing.T, b testkit.Backend, env map[string]string) (*harness, string) {
	t.Helper()
	proxy := testkit.IP(t)
	vars := map[string]string{"TRUSTED_PROXIES": proxy}
	for k, v := range env {
		vars[k] = v
	}
	h := newHarness(t, b, vars)
	h.ip = proxy
	return h, proxy
}

// refused checks a 401 verify answer: its error code and challenge, and
// no identity header.
func refused(t testing.TB, w *httptest.ResponseRecorder, code, challenge string) {
	t.Helper()
	expect(t, w, 401, code)
	expectChallenge(t, w, challenge)
	if _, leaked := w.Header()["X-Auth-User"]; leaked {
		t.Fatalf("a refused answer carries X-Auth-User %q", w.Header().Get("X-Auth-User"))
	}
}

// TestVerifyDPoP: /auth/verify (SPEC §13) checks a DPoP-bound token's
// proof against the request the trusted proxy asks about (SPEC §14,
// middleware.JWTForwarded), never against /auth/verify itself; one row per
// attack, each with its exact challenge.
func TestVerifyDPoP(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, proxy := proxiedHarness(t, b, nil)
		key := newProver(t, h, "ES256")
		tok := h.boundPair(key).AccessToken
		sid := h.sessionOf(withDPoP(tok, key.proof("GET", "/user/sessions", tok, "")))
		want := map[string]string{"X-Auth-User": h.user, "X-Auth-Session": sid, "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"}
		fwd := forwardedFor("GET", appPath+"?x=1")

		// A proof for the proxied request, as the client made it: allowed.
		replayed := key.appProof("GET", tok)
		allowed(t, h.proxyVerify(proxy, "", fwd, withDPoP(tok, replayed)), want)

		// Forwarded headers from a client are not believed, even with a
		// proof that would do from the proxy; nothing is spent, so the
		// same proof then works from the proxy.
		t.Run("forwarded headers from an untrusted peer", func(t *testing.T) {
			fresh := key.appProof("GET", tok)
			refused(t, h.proxyVerify(testkit.IP(t), "", fwd, withDPoP(tok, fresh)), "invalid_dpop_proof", challengeProof)
			allowed(t, h.proxyVerify(proxy, "", fwd, withDPoP(tok, fresh)), want)
		})

		thief := newProver(t, h, "ES256")
		unbound := h.login()
		otherHost := func() string {
			s, err := key.c.Proof("GET", "https://evil.example.com"+appPath, tok, "")
			if err != nil {
				t.Fatal(err)
			}
			given.add(s)
			return s
		}()
		tests := []struct {
			name            string
			headers         []map[string]string
			code, challenge string
		}{
			{"a proof for /auth/verify itself", []map[string]string{fwd, withDPoP(tok, key.proof("GET", "/auth/verify", tok, ""))}, "invalid_dpop_proof", challengeProof},
			{"a proof for another method than the forwarded one", []map[string]string{forwardedFor("POST", appPath), withDPoP(tok, key.appProof("GET", tok))}, "invalid_dpop_proof", challengeProof},
			{"a proof for another path than the forwarded one", []map[string]string{forwardedFor("GET", "/orders/8"), withDPoP(tok, key.appProof("GET", tok))}, "invalid_dpop_proof", challengeProof},
			{"a proof for another host than the forwarded one", []map[string]string{fwd, withDPoP(tok, otherHost)}, "invalid_dpop_proof", challengeProof},
			{"no X-Forwarded-Method or -Uri", []map[string]string{{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}, withDPoP(tok, key.appProof("GET", tok))}, "invalid_dpop_proof", challengeProof},
			{"a replayed proof", []map[string]string{fwd, withDPoP(tok, replayed)}, "invalid_dpop_proof", challengeProof},
			{"no proof", []map[string]string{fwd, {"Authorization": "DPoP " + tok}}, "invalid_dpop_proof", challengeProof},
			{"a proof by another key", []map[string]string{fwd, withDPoP(tok, thief.appProof("GET", tok))}, "invalid_dpop_proof", challengeProof},
			{"the bound token as Bearer", []map[string]string{fwd, bearer(tok)}, "invalid_token", `Bearer error="invalid_token"`},
			{"the bound token as Bearer with its proof", []map[string]string{fwd, {"Authorization": "Bearer " + tok, "DPoP": key.appProof("GET", tok)}}, "invalid_token", `Bearer error="invalid_token"`},
			{"an unbound token as DPoP", []map[string]string{fwd, withDPoP(unbound.AccessToken, key.appProof("GET", unbound.AccessToken))}, "invalid_token", challengeToken},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				refused(t, h.proxyVerify(proxy, "", tt.headers...), tt.code, tt.challenge)
			})
		}

		// An unbound Bearer token is still served as before, forwarded
		// headers or not.
		unboundWant := map[string]string{"X-Auth-User": h.user, "X-Auth-Session": h.currentSession(unbound.AccessToken), "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"}
		allowed(t, h.proxyVerify(proxy, "", fwd, bearer(unbound.AccessToken)), unboundWant)
		allowed(t, h.proxyVerify(testkit.IP(t), "", bearer(unbound.AccessToken)), unboundWant)

		// The role check comes after the proof, as after Bearer.
		w := h.proxyVerify(proxy, "?role=admin", fwd, withDPoP(tok, key.appProof("GET", tok)))
		expect(t, w, 403, "forbidden")
		allowed(t, h.proxyVerify(proxy, "?role=user", fwd, withDPoP(tok, key.appProof("GET", tok))), want)

		// Logged out (the DPoP way): the next proof is worth nothing.
		expect(t, h.do(req{method: "POST", path: "/user/logout", header: withDPoP(tok, key.proof("POST", "/user/logout", tok, ""))}), 200, "Logout success")
		refused(t, h.proxyVerify(proxy, "", fwd, withDPoP(tok, key.appProof("GET", tok))), "invalid_token", challengeToken)
	})
}

// TestVerifyDPoPRequired: with DPOP=required, /auth/verify refuses Bearer
// tokens, even unbound ones issued before, and serves bound ones with
// their proofs.
func TestVerifyDPoPRequired(t *testing.T) {
	b := testkit.Backends(t)[0]
	before, proxy := proxiedHarness(t, b, nil)
	old := before.login() // issued while DPoP was optional
	h, _ := proxiedHarness(t, b, map[string]string{"DPOP": "required", "TRUSTED_PROXIES": proxy, "DEMO_USER": before.user + ":123"})
	h.ip = proxy
	fwd := forwardedFor("GET", appPath)
	allowed(t, before.proxyVerify(proxy, "", fwd, bearer(old.AccessToken)), map[string]string{"X-Auth-User": before.user,
		"X-Auth-Session": before.currentSession(old.AccessToken), "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"})
	refused(t, h.proxyVerify(proxy, "", fwd, bearer(old.AccessToken)), "invalid_token", `Bearer error="invalid_token"`)

	key := newProver(t, h, "ES256")
	tok := h.boundPair(key).AccessToken
	w := h.proxyVerify(proxy, "", fwd, withDPoP(tok, key.appProof("GET", tok)))
	if w.Code != 200 || w.Header().Get("X-Auth-User") != h.user {
		t.Fatalf("a bound token with its proof under DPOP=required: %d %q", w.Code, w.Header().Get("X-Auth-User"))
	}
	refused(t, h.proxyVerify(proxy, "", fwd, bearer(tok)), "invalid_token", `Bearer error="invalid_token"`)
}

// TestVerifyDPoPNonce: with DPOP_NONCE=on, /auth/verify asks for the
// nonce as private routes do (401 use_dpop_nonce with DPoP-Nonce, which a
// proxy passes on to the client) and hands out the current one on 200.
func TestVerifyDPoPNonce(t *testing.T) {
	h, proxy := proxiedHarness(t, testkit.Backends(t)[0], map[string]string{"DPOP_NONCE": "on"})
	key := newProver(t, h, "ES256")
	w := h.loginDPoP(key)
	expect(t, w, 400, "use_dpop_nonce")
	nonce := w.Header().Get("DPoP-Nonce")
	pp := decodePair(t, h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form,
		header: map[string]string{"DPoP": key.proof("POST", "/public/login", "", nonce)}}))
	tok := pp.AccessToken
	fwd := forwardedFor("GET", appPath)

	w = h.proxyVerify(proxy, "", fwd, withDPoP(tok, key.appProof("GET", tok)))
	refused(t, w, "use_dpop_nonce", challengeNonce)
	if w.Header().Get("DPoP-Nonce") != nonce {
		t.Fatalf("401 use_dpop_nonce with DPoP-Nonce %q, want %q", w.Header().Get("DPoP-Nonce"), nonce)
	}
	proof, err := key.c.Proof("GET", appOrigin+appPath, tok, nonce)
	if err != nil {
		t.Fatal(err)
	}
	given.add(proof)
	w = h.proxyVerify(proxy, "", fwd, withDPoP(tok, proof))
	if w.Code != 200 || w.Header().Get("X-Auth-User") != h.user || w.Header().Get("DPoP-Nonce") != nonce {
		t.Fatalf("with the nonce: %d user %q nonce %q", w.Code, w.Header().Get("X-Auth-User"), w.Header().Get("DPoP-Nonce"))
	}
}
