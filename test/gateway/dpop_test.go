package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// dpopChallenge is go-jwt's challenge for a refused proof.
const dpopChallenge = `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256"`

// dpopScenario: a DPoP-bound token (SPEC §14) through the proxy. The
// client signs its proof for the URL it calls at the gateway; the proxy's
// auth subrequest forwards the proof and names that request
// (X-Forwarded-Method, -Uri, -Host, -Proto), so go-jwt checks the proof
// against it. The same proof again is a replay, and the bound token as
// Bearer is refused; neither reaches the app.
func dpopScenario(t *testing.T, r *rig) {
	t.Run("a DPoP-bound token with a proof for the proxied URL", func(t *testing.T) {
		key, err := dpop.NewClient(testkit.Signer(t, "ES256"), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		proof := func(method, u, token string) string {
			t.Helper()
			s, err := key.Proof(method, u, token, "")
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		a := r.do(http.MethodPost, r.svc+"/public/login", "", map[string][]string{
			"Content-Type": {"application/x-www-form-urlencoded"}, "DPoP": {proof("POST", r.svc+"/public/login", "")}},
			url.Values{"username": {r.user}, "password": {r.pass}}.Encode())
		var p struct {
			Access    string `json:"accessToken"`
			TokenType string `json:"tokenType"`
		}
		if err := json.Unmarshal([]byte(a.Body), &p); a.Status != http.StatusOK || err != nil || p.TokenType != "DPoP" {
			t.Fatalf("bound login: %v %v", a, err)
		}
		bound := func(proof string) map[string][]string {
			return map[string][]string{"Authorization": {"DPoP " + p.Access}, "DPoP": {proof}}
		}

		used := proof("GET", r.gw+"/api/orders", p.Access)
		if a := r.do(http.MethodGet, r.gw+"/api/orders?page=3", "", bound(used), ""); a.Status != http.StatusOK || a.Body != "app: "+r.user {
			t.Fatalf("bound token with its proof through the gateway: %v", a)
		}
		sub := r.auth.last(t)
		if sub.Header.Get("DPoP") != used || sub.Header.Get("X-Forwarded-Uri") != "/api/orders?page=3" ||
			"http://"+sub.Header.Get("X-Forwarded-Host") != r.gw || sub.Header.Get("X-Forwarded-Proto") != "http" {
			t.Fatalf("the verify subrequest had %v", sub.Header)
		}

		before := r.app.count()
		a = r.do(http.MethodGet, r.gw+"/api/orders?page=3", "", bound(used), "")
		r.refused(a, http.StatusUnauthorized, "invalid_dpop_proof", before)
		if got := a.Header.Get("WWW-Authenticate"); got != dpopChallenge {
			t.Fatalf("a replayed proof: WWW-Authenticate %q, want %q", got, dpopChallenge)
		}
		// A proof for another URL of the app, or for go-jwt's own
		// /auth/verify, is no proof for this request.
		for _, u := range []string{r.gw + "/api/other", r.svc + "/auth/verify", r.gw + "/auth/verify"} {
			a = r.do(http.MethodGet, r.gw+"/api/orders", "", bound(proof("GET", u, p.Access)), "")
			r.refused(a, http.StatusUnauthorized, "invalid_dpop_proof", before)
		}
		a = r.do(http.MethodGet, r.gw+"/api/orders", p.Access, nil, "")
		r.refused(a, http.StatusUnauthorized, "invalid_token", before)
		if got := a.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
			t.Fatalf("the bound token as Bearer: WWW-Authenticate %q", got)
		}
	})
}
