package routers_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// TestDPoPNonce: with DPOP_NONCE=on a proof must carry a current server
// nonce: without one, login is 400 and a resource request 401
// use_dpop_nonce, each with the nonce to use in DPoP-Nonce; a stale or
// forged nonce is refused the same way; every DPoP answer hands out the
// current nonce.
func TestDPoPNonce(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"DPOP_NONCE": "on"})
	key := newProver(t, h, "ES256")
	login := func(nonce string) *httptest.ResponseRecorder {
		return h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form,
			header: map[string]string{"DPoP": key.proof("POST", "/public/login", "", nonce)}})
	}
	w := login("")
	expect(t, w, 400, "use_dpop_nonce")
	nonce := w.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	w = login(nonce)
	pp := decodePair(t, w)
	checkBound(t, pp, key)
	if w.Header().Get("DPoP-Nonce") != nonce {
		t.Fatalf("login's DPoP-Nonce %q, want the current %q", w.Header().Get("DPoP-Nonce"), nonce)
	}

	tok := pp.AccessToken
	welcome := func(nonce string) *httptest.ResponseRecorder {
		return h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, nonce))})
	}
	w = welcome("")
	expect(t, w, 401, "use_dpop_nonce")
	expectChallenge(t, w, challengeNonce)
	if w.Header().Get("DPoP-Nonce") != nonce {
		t.Fatalf("401 use_dpop_nonce with DPoP-Nonce %q", w.Header().Get("DPoP-Nonce"))
	}
	expect(t, welcome(nonce), 200, "Welcome ! "+h.user)

	forged := dpop.NewNonces(dpop.NonceKey([]byte("another key another key another key")), h.clock.Now).Current()
	expect(t, welcome(forged), 401, "use_dpop_nonce")

	// Two windows on, the first nonce is stale; the answer hands out the
	// new one, which works (the access token lives 15 minutes).
	h.clock.Advance(2 * dpop.NonceWindow)
	w = welcome(nonce)
	expect(t, w, 401, "use_dpop_nonce")
	fresh := w.Header().Get("DPoP-Nonce")
	if fresh == "" || fresh == nonce {
		t.Fatalf("a stale nonce answered with DPoP-Nonce %q", fresh)
	}
	w = welcome(fresh)
	expect(t, w, 200, "")
	if w.Header().Get("DPoP-Nonce") != fresh {
		t.Fatal("a DPoP answer without the current nonce")
	}
	// Refresh: 400 use_dpop_nonce without one, and the session lives on.
	refresh := func(nonce string) *httptest.ResponseRecorder {
		return h.do(req{method: "POST", path: "/public/refresh", header: map[string]string{
			"Authorization": "Bearer " + pp.RefreshToken, "DPoP": key.proof("POST", "/public/refresh", "", nonce)}})
	}
	expect(t, refresh(nonce), 400, "use_dpop_nonce")
	checkBound(t, decodePair(t, refresh(fresh)), key)
}

// TestDPoPNonceAcrossInstances: an instance accepts the nonce another one
// handed out (same JWT_SECRET, nothing stored).
func TestDPoPNonceAcrossInstances(t *testing.T) {
	b := testkit.Backends(t)[0]
	one := newHarness(t, b, map[string]string{"DPOP_NONCE": "on"})
	two := newHarness(t, b, map[string]string{"DPOP_NONCE": "on", "DEMO_USER": one.user + ":123"})
	key := newProver(t, one, "ES256")
	nonce := one.loginDPoP(key).Header().Get("DPoP-Nonce")
	w := two.do(req{method: "POST", path: "/public/login", body: "username=" + one.user + "&password=123", ctype: form,
		header: map[string]string{"DPoP": key.proof("POST", "/public/login", "", nonce)}})
	checkBound(t, decodePair(t, w), key)
}

// TestDPoPBehindProxy: htu is the URL the client used: X-Forwarded-Proto
// and -Host count from TRUSTED_PROXIES only, and PUBLIC_URL overrides
// both.
func TestDPoPBehindProxy(t *testing.T) {
	b := testkit.Backends(t)[0]
	const public = "https://api.example.com"
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
	login := func(h *harness, key *prover, peer string, header map[string]string) *httptest.ResponseRecorder {
		proof, err := key.c.Proof("POST", public+"/public/login", "", "")
		if err != nil {
			t.Fatal(err)
		}
		given.add(proof)
		r := httptest.NewRequest("POST", "/public/login", strings.NewReader("username="+h.user+"&password=123"))
		r.Header.Set("Content-Type", form)
		r.Header.Set("DPoP", proof)
		for k, v := range header {
			r.Header.Set(k, v)
		}
		r.RemoteAddr = peer + ":1"
		w := httptest.NewRecorder()
		h.router.ServeHTTP(w, r)
		checkResponse(t, r, w)
		return w
	}
	proxied := newHarness(t, b, map[string]string{"TRUSTED_PROXIES": "10.9.8.7"})
	key := newProver(t, proxied, "ES256")
	checkBound(t, decodePair(t, login(proxied, key, "10.9.8.7", forwarded)), key)
	expect(t, login(proxied, key, "198.18.7.7", forwarded), 400, "invalid_dpop_proof") // forged by a client

	pub := newHarness(t, b, map[string]string{"PUBLIC_URL": public + "/"})
	checkBound(t, decodePair(t, login(pub, key, "198.18.7.8", nil)), key)
}

// TestDPoPMetricsAndOutage: refused proofs are counted by reason; a Redis
// outage on a DPoP request is 503, never a 401.
func TestDPoPMetricsAndOutage(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil)
	key := newProver(t, h, "ES256")
	tok := h.boundPair(key).AccessToken
	proof := key.proof("GET", "/user/welcome", tok, "")
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, proof)}), 200, "")
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, proof)}), 401, "invalid_dpop_proof")
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, newProver(t, h, "ES256").proof("GET", "/user/welcome", tok, ""))}), 401, "invalid_dpop_proof")
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(tok)}), 401, "invalid_token")
	h.clock.Advance(2 * time.Minute)
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: map[string]string{"Authorization": "DPoP " + tok, "DPoP": proof}}), 401, "invalid_dpop_proof")
	expect(t, h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form,
		header: map[string]string{"DPoP": "junk"}}), 400, "invalid_dpop_proof")

	text := h.do(req{method: "GET", path: "/metrics"}).Body.String()
	for _, line := range []string{
		`jwt_dpop_proofs_rejected_total{reason="replayed"} 1`,
		`jwt_dpop_proofs_rejected_total{reason="key_mismatch"} 1`,
		`jwt_dpop_proofs_rejected_total{reason="stale"} 1`,
		`jwt_dpop_proofs_rejected_total{reason="malformed"} 1`,
		`jwt_tokens_rejected_total{reason="dpop_bound"} 1`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}

	tok = h.boundPair(key).AccessToken
	b.Mini.Close()
	w := h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))})
	expect(t, w, 503, "unavailable")
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("a 503 with a challenge")
	}
	expect(t, h.loginDPoP(key), 503, "unavailable")
}

// TestDPoPCORS: a page on an allowed origin may send DPoP and read
// DPoP-Nonce.
func TestDPoPCORS(t *testing.T) {
	const app = "https://app.example"
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"CORS_ORIGINS": app})
	w := h.do(req{method: "OPTIONS", path: "/user/welcome", header: map[string]string{
		"Origin": app, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization,dpop"}})
	if !strings.Contains(strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")), "dpop") {
		t.Fatalf("preflight does not allow the DPoP header: %v", w.Header())
	}
	w = h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"Origin": app}})
	if !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Dpop-Nonce") &&
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
		t.Fatalf("DPoP-Nonce not exposed: %q", w.Header().Get("Access-Control-Expose-Headers"))
	}
}
