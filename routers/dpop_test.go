package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// origin is where httptest.NewRequest sends a request: what htu names.
const origin = "http://example.com"

const (
	challengeProof = `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256"`
	challengeNonce = `DPoP error="use_dpop_nonce", algs="ES256 EdDSA RS256"`
	challengeToken = `DPoP error="invalid_token", algs="ES256 EdDSA RS256"`
)

// prover is a client's DPoP key, on the harness's clock.
type prover struct {
	t testing.TB
	c *dpop.Client
}

func newProver(t testing.TB, h *harness, alg string) *prover {
	t.Helper()
	c, err := dpop.NewClient(testkit.Signer(t, alg), h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &prover{t: t, c: c}
}

// proof is a fresh proof for method on path (of origin), with the ath of
// token unless it is empty, and nonce unless it is empty.
func (p *prover) proof(method, path, token, nonce string) string {
	p.t.Helper()
	s, err := p.c.Proof(method, origin+path, token, nonce)
	if err != nil {
		p.t.Fatal(err)
	}
	given.add(s) // a proof must not reach the log either
	return s
}

func withDPoP(token, proof string) map[string]string {
	return map[string]string{"Authorization": "DPoP " + token, "DPoP": proof}
}

// loginDPoP logs the harness's user in with a proof by p.
func (h *harness) loginDPoP(p *prover) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form,
		header: map[string]string{"DPoP": p.proof("POST", "/public/login", "", "")}})
}

// boundPair logs in with p and checks the pair is bound to p's key.
func (h *harness) boundPair(p *prover) pair {
	h.t.Helper()
	pp := decodePair(h.t, h.loginDPoP(p))
	checkBound(h.t, pp, p)
	return pp
}

func checkBound(t testing.TB, pp pair, p *prover) {
	t.Helper()
	if pp.TokenType != "DPoP" {
		t.Fatalf("tokenType %q, want DPoP", pp.TokenType)
	}
	for _, tok := range []string{pp.AccessToken, pp.RefreshToken} {
		if got := cnf(t, tok); got != p.c.JKT() {
			t.Fatalf("cnf.jkt %q, want the proof key's %q", got, p.c.JKT())
		}
	}
}

// cnf is the cnf.jkt claim of token, "" when it has none.
func cnf(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf *struct{ JKT string } `json:"cnf"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Cnf == nil {
		return ""
	}
	return c.Cnf.JKT
}

func expectChallenge(t testing.TB, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	if got := w.Header().Get("WWW-Authenticate"); got != want {
		t.Fatalf("WWW-Authenticate %q, want %q", got, want)
	}
}

// TestDPoPResource: a pair issued with a proof is bound to its key; the
// bound access token works only as Authorization: DPoP with a fresh proof
// by that key for this very request. One row per attack.
func TestDPoPResource(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		key := newProver(t, h, "ES256")
		pp := h.boundPair(key)
		tok := pp.AccessToken
		welcome := func(header map[string]string) *httptest.ResponseRecorder {
			return h.do(req{method: "GET", path: "/user/welcome", header: header})
		}
		expect(t, welcome(withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))), 200, "Welcome ! "+h.user)

		thief := newProver(t, h, "ES256")
		replayed := key.proof("GET", "/user/welcome", tok, "")
		expect(t, welcome(withDPoP(tok, replayed)), 200, "Welcome ! "+h.user)
		other := h.login() // an unbound pair of the same user
		tests := []struct {
			name      string
			header    map[string]string
			code      string
			challenge string
		}{
			{"bound token as Bearer", bearer(tok), "invalid_token", `Bearer error="invalid_token"`},
			{"no proof", map[string]string{"Authorization": "DPoP " + tok}, "invalid_dpop_proof", challengeProof},
			{"proof by another key", withDPoP(tok, thief.proof("GET", "/user/welcome", tok, "")), "invalid_dpop_proof", challengeProof},
			{"replayed proof", withDPoP(tok, replayed), "invalid_dpop_proof", challengeProof},
			{"proof for another method", withDPoP(tok, key.proof("POST", "/user/welcome", tok, "")), "invalid_dpop_proof", challengeProof},
			{"proof for another path", withDPoP(tok, key.proof("GET", "/user/me", tok, "")), "invalid_dpop_proof", challengeProof},
			{"proof without ath", withDPoP(tok, key.proof("GET", "/user/welcome", "", "")), "invalid_dpop_proof", challengeProof},
			{"proof with the ath of another token", withDPoP(tok, key.proof("GET", "/user/welcome", other.AccessToken, "")), "invalid_dpop_proof", challengeProof},
			{"unbound token as DPoP", withDPoP(other.AccessToken, key.proof("GET", "/user/welcome", other.AccessToken, "")), "invalid_token", challengeToken},
			{"forged token as DPoP", withDPoP("x.y.z", key.proof("GET", "/user/welcome", "x.y.z", "")), "invalid_token", challengeToken},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := welcome(tt.header)
				expect(t, w, 401, tt.code)
				expectChallenge(t, w, tt.challenge)
			})
		}
		// The refresh token is no access token, bound or not.
		expect(t, welcome(withDPoP(pp.RefreshToken, key.proof("GET", "/user/welcome", pp.RefreshToken, ""))), 401, "invalid_token")

		// Introspection reports the binding.
		hi := newHarness(t, b, map[string]string{"INTROSPECT_SECRET": introspectSecret, "DEMO_USER": h.user + ":123"})
		got := hi.introspect(tok)
		if c, _ := got["cnf"].(map[string]any); c == nil || c["jkt"] != key.c.JKT() {
			t.Fatalf("introspection of a bound token: %v", got)
		}
		if _, has := hi.introspect(other.AccessToken)["cnf"]; has {
			t.Fatal("introspection of an unbound token reports cnf")
		}

		// Logout works the DPoP way and revokes the session.
		expect(t, h.do(req{method: "POST", path: "/user/logout", header: withDPoP(tok, key.proof("POST", "/user/logout", tok, ""))}), 200, "Logout success")
		w := welcome(withDPoP(tok, key.proof("GET", "/user/welcome", tok, "")))
		expect(t, w, 401, "invalid_token")
		expectChallenge(t, w, challengeToken)
	})
}

// TestDPoPAlgorithms: EdDSA and RS256 keys bind as ES256 ones do.
func TestDPoPAlgorithms(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	for _, alg := range []string{"EdDSA", "RS256"} {
		key := newProver(t, h, alg)
		tok := h.boundPair(key).AccessToken
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 200, "Welcome ! "+h.user)
	}
}

// TestDPoPLoginRefused: a login whose proof fails any check is 400
// invalid_dpop_proof and issues nothing, in the default optional mode too.
func TestDPoPLoginRefused(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	key := newProver(t, h, "ES256")
	login := func(proofs ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/public/login", strings.NewReader("username="+h.user+"&password=123"))
		r.Header.Set("Content-Type", form)
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		r.RemoteAddr = h.ip + ":1"
		w := httptest.NewRecorder()
		h.router.ServeHTTP(w, r)
		checkResponse(t, r, w)
		return w
	}
	used := key.proof("POST", "/public/login", "", "")
	decodePair(t, login(used))
	for name, proofs := range map[string][]string{
		"replayed proof":        {used},
		"proof for refresh":     {key.proof("POST", "/public/refresh", "", "")},
		"proof for GET":         {key.proof("GET", "/public/login", "", "")},
		"two proofs":            {key.proof("POST", "/public/login", "", ""), key.proof("POST", "/public/login", "", "")},
		"garbage":               {"not-a-proof"},
		"a token, not a proof":  {h.login().AccessToken},
		"empty DPoP header too": {""},
	} {
		t.Run(name, func(t *testing.T) {
			w := login(proofs...)
			expect(t, w, 400, "invalid_dpop_proof")
			if strings.Contains(w.Body.String(), "accessToken") {
				t.Fatalf("a pair came with the refusal: %s", w.Body)
			}
		})
	}
}

// TestDPoPRefresh: a bound session's refresh needs a proof by its key and
// stays bound; without a proof or with another key it is 400 and the
// session is neither rotated nor revoked; an unbound session stays
// unbound.
func TestDPoPRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		key, thief := newProver(t, h, "ES256"), newProver(t, h, "ES256")
		pp := h.boundPair(key)
		refresh := func(token string, header map[string]string) *httptest.ResponseRecorder {
			if header == nil {
				header = map[string]string{}
			}
			header["Authorization"] = "Bearer " + token
			return h.do(req{method: "POST", path: "/public/refresh", header: header})
		}
		for name, header := range map[string]map[string]string{
			"without a proof":                 nil,
			"with a proof by another key":     {"DPoP": thief.proof("POST", "/public/refresh", "", "")},
			"with a proof for another route":  {"DPoP": key.proof("POST", "/public/login", "", "")},
			"with a proof for another method": {"DPoP": key.proof("GET", "/public/refresh", "", "")},
		} {
			t.Run(name, func(t *testing.T) { expect(t, refresh(pp.RefreshToken, header), 400, "invalid_dpop_proof") })
		}
		// Still the same live session: the access token works, the refresh
		// token was neither rotated nor taken for reuse.
		tok := pp.AccessToken
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 200, "")
		next := decodePair(t, refresh(pp.RefreshToken, map[string]string{"DPoP": key.proof("POST", "/public/refresh", "", "")}))
		checkBound(t, next, key)
		tok = next.AccessToken
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 200, "")

		// The rotated-away refresh token without the key: refused for the
		// key, not taken for reuse, so a thief cannot end the session.
		expect(t, refresh(pp.RefreshToken, nil), 400, "invalid_dpop_proof")
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 200, "")
		// With the key it is reuse, as for Bearer pairs: the session ends.
		expect(t, refresh(pp.RefreshToken, map[string]string{"DPoP": key.proof("POST", "/public/refresh", "", "")}), 401, "invalid_token")
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 401, "invalid_token")

		// An unbound session refreshed with a valid proof stays unbound.
		plain := h.login()
		up := decodePair(t, refresh(plain.RefreshToken, map[string]string{"DPoP": key.proof("POST", "/public/refresh", "", "")}))
		if up.TokenType != "Bearer" || cnf(t, up.AccessToken) != "" {
			t.Fatalf("an unbound session got bound on refresh: %q", up.TokenType)
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(up.AccessToken)}), 200, "")
		// … and an invalid proof still refuses it.
		expect(t, refresh(up.RefreshToken, map[string]string{"DPoP": thief.proof("GET", "/public/refresh", "", "")}), 400, "invalid_dpop_proof")
	})
}

// TestDPoPRequired: with DPOP=required, login and refresh need a proof,
// and Bearer access tokens are refused, even those issued before.
func TestDPoPRequired(t *testing.T) {
	b := testkit.Backends(t)[0]
	before := newHarness(t, b, nil)
	old := before.login() // issued while DPoP was optional
	h := newHarness(t, b, map[string]string{"DPOP": "required", "DEMO_USER": before.user + ":123"})
	key := newProver(t, h, "ES256")

	expect(t, h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form}), 400, "invalid_dpop_proof")
	w := h.do(req{method: "GET", path: "/user/welcome", header: bearer(old.AccessToken)})
	expect(t, w, 401, "invalid_token")
	expectChallenge(t, w, `Bearer error="invalid_token"`)
	expect(t, h.do(req{method: "POST", path: "/public/refresh", header: map[string]string{
		"Authorization": "Bearer " + old.RefreshToken, "DPoP": key.proof("POST", "/public/refresh", "", "")}}), 400, "invalid_dpop_proof")

	pp := h.boundPair(key)
	tok := pp.AccessToken
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))}), 200, "")
	expect(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(pp.RefreshToken)}), 400, "invalid_dpop_proof")
	checkBound(t, decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: map[string]string{
		"Authorization": "Bearer " + pp.RefreshToken, "DPoP": key.proof("POST", "/public/refresh", "", "")}})), key)
}

// TestDPoPOff: with DPOP=off proofs are ignored and the DPoP scheme is
// unknown.
func TestDPoPOff(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"DPOP": "off"})
	key := newProver(t, h, "ES256")
	pp := decodePair(t, h.loginDPoP(key))
	if pp.TokenType != "Bearer" || cnf(t, pp.AccessToken) != "" {
		t.Fatalf("DPOP=off bound a pair: %+v", pp.TokenType)
	}
	tok := pp.AccessToken
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(tok)}), 200, "")
	w := h.do(req{method: "GET", path: "/user/welcome", header: withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))})
	expect(t, w, 401, "invalid_token")
	expectChallenge(t, w, `Bearer error="invalid_token"`)
}
