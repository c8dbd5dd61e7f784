package routers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// testSecret is the harness's JWT_SECRET.
var testSecret = []byte("test-secret-test-secret-test-secret")

// withClaims is tok signed again with edited claims (roles, amr: claims
// this branch's codec does not issue yet), still its session's live token.
func withClaims(t *testing.T, tok string, edit func(*utils.Claims)) string {
	t.Helper()
	out := testkit.Resign(t, tok, testSecret, edit)
	given.add(out)
	return out
}

// verify asks /auth/verify as a proxy would: method, query, token.
func (h *harness) verify(method, query, token string) *httptest.ResponseRecorder {
	h.t.Helper()
	var hd map[string]string
	if token != "" {
		hd = bearer(token)
	}
	w := h.do(req{method: method, path: "/auth/verify" + query, header: hd})
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		h.t.Fatalf("%s /auth/verify%s: %d with Cache-Control %q, want no-store", method, query, w.Code, got)
	}
	return w
}

// allowed checks a 200 verify answer: empty body and every identity header
// present with the value wanted.
func allowed(t *testing.T, w *httptest.ResponseRecorder, want map[string]string) {
	t.Helper()
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("status %d body %q, want 200 and an empty body", w.Code, w.Body)
	}
	for _, k := range []string{"X-Auth-User", "X-Auth-Session", "X-Auth-Roles", "X-Auth-Amr"} {
		v, present := w.Header()[k]
		if !present || len(v) != 1 || v[0] != want[k] {
			t.Fatalf("%s = %q (present %v), want %q", k, v, present, want[k])
		}
	}
}

// currentSession is the id of the session that tok belongs to.
func (h *harness) currentSession(tok string) string {
	h.t.Helper()
	return h.sessionOf(bearer(tok))
}

// sessionOf is the id of the current session of GET /user/sessions with
// header (a token, or a DPoP token and its proof).
func (h *harness) sessionOf(header map[string]string) string {
	h.t.Helper()
	w := h.do(req{method: "GET", path: "/user/sessions", header: header})
	var body struct {
		Sessions []struct {
			ID      string
			Current bool
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		h.t.Fatal(err)
	}
	for _, s := range body.Sessions {
		if s.Current {
			return s.ID
		}
	}
	h.t.Fatalf("no current session in %s", w.Body)
	return ""
}

// Every method gets the same answers: a proxy may ask with the client's.
func TestVerifyAllowsALiveAccessToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		want := map[string]string{"X-Auth-User": h.user, "X-Auth-Session": h.currentSession(p.AccessToken), "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"}
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			t.Run(m, func(t *testing.T) {
				allowed(t, h.verify(m, "", p.AccessToken), want)
				w := h.verify(m, "", "")
				if w.Code != 401 || w.Header().Get("WWW-Authenticate") != "Bearer" {
					t.Fatalf("%s without a token: %d %q", m, w.Code, w.Header().Get("WWW-Authenticate"))
				}
			})
		}
		// The proxy's own headers change nothing.
		w := h.do(req{method: "GET", path: "/auth/verify", header: map[string]string{"Authorization": "Bearer " + p.AccessToken,
			"X-Forwarded-Method": "DELETE", "X-Forwarded-Uri": "/admin/anything?role=admin", "X-Auth-User": "someone-else"}})
		allowed(t, w, want)
	})
}

func TestVerifyRefusesWhatThePrivateRoutesRefuse(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		expired := h.login()
		loggedOut := h.login()
		expect(t, h.do(req{method: "POST", path: "/user/logout", header: bearer(loggedOut.AccessToken)}), 200, "Logout success")
		rotated := h.login()
		decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(rotated.RefreshToken)}))
		forged := testkit.Resign(t, p.AccessToken, []byte("another-secret-another-secret-another"), func(c *utils.Claims) { c.Roles = []string{"admin"} })
		given.add(forged)
		h.clock.Advance(10 * time.Minute) // expired's own clock: its token was issued 10 min before the others'
		fresh := h.login()
		h.clock.Advance(6 * time.Minute) // 16 min after expired's login, 6 after fresh's

		tests := []struct {
			name, token, challenge string
		}{
			{"no token", "", "Bearer"},
			{"garbage", "x.y.z", `Bearer error="invalid_token"`},
			{"refresh token", fresh.RefreshToken, `Bearer error="invalid_token"`},
			{"expired access token", expired.AccessToken, `Bearer error="invalid_token"`},
			{"logged out", loggedOut.AccessToken, `Bearer error="invalid_token"`},
			{"rotated away by a refresh", rotated.AccessToken, `Bearer error="invalid_token"`},
			{"signed with another key, claiming admin", forged, `Bearer error="invalid_token"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, query := range []string{"", "?role=admin"} {
					w := h.verify("GET", query, tt.token)
					expect(t, w, 401, "invalid_token")
					if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
						t.Fatalf("WWW-Authenticate %q, want %q", got, tt.challenge)
					}
					if _, leaked := w.Header()["X-Auth-User"]; leaked {
						t.Fatalf("a refused answer carries X-Auth-User %q", w.Header().Get("X-Auth-User"))
					}
				}
			})
		}
		allowed(t, h.verify("GET", "", fresh.AccessToken), map[string]string{"X-Auth-User": h.user,
			"X-Auth-Session": h.currentSession(fresh.AccessToken), "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"})
		// The token header spelled otherwise, as on private routes.
		w := h.do(req{method: "GET", path: "/auth/verify", header: map[string]string{"Authorization": "Basic a2VzYToxMjM="}})
		expect(t, w, 401, "invalid_token")
	})
}

func TestVerifyRoles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		sid := h.currentSession(p.AccessToken)
		admin := withClaims(t, p.AccessToken, func(c *utils.Claims) {
			c.Roles, c.AMR = []string{"admin", "user"}, []string{"pwd", "otp"}
		})
		adminHeaders := map[string]string{"X-Auth-User": h.user, "X-Auth-Session": sid, "X-Auth-Roles": "admin,user", "X-Auth-Amr": "pwd,otp"}
		tests := []struct {
			name, query, token string
			ok                 bool
		}{
			{"a user without roles asking for admin", "?role=admin", p.AccessToken, false},
			{"an empty role is never held", "?role=", admin, false},
			{"a role not held", "?role=ops", admin, false},
			{"a comma list is one (impossible) name, not two", "?role=ops,admin", admin, false},
			{"the case matters", "?role=ADMIN", admin, false},
			{"the role held", "?role=admin", admin, true},
			{"any of the roles asked for", "?role=ops&role=admin", admin, true},
			{"other parameters are ignored", "?next=/x&role=user", admin, true},
			{"no role asked for", "", admin, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := h.verify("GET", tt.query, tt.token)
				if tt.ok {
					allowed(t, w, adminHeaders)
					return
				}
				expect(t, w, 403, "forbidden")
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope"` {
					t.Fatalf("WWW-Authenticate %q", got)
				}
				if _, leaked := w.Header()["X-Auth-User"]; leaked {
					t.Fatal("a 403 carries X-Auth-User")
				}
			})
		}
		// A role claim on a revoked session is worth nothing.
		expect(t, h.do(req{method: "POST", path: "/user/logout", header: bearer(p.AccessToken)}), 200, "Logout success")
		expect(t, h.verify("GET", "?role=admin", admin), 401, "invalid_token")
	})
}

func TestVerifyRedisDownIs503NotA401(t *testing.T) {
	b := testkit.Backends(t)[0] // miniredis: the test may close it
	h := newHarness(t, b, nil)
	p := h.login()
	b.Mini.Close()
	for _, query := range []string{"", "?role=admin"} {
		w := h.verify("GET", query, p.AccessToken)
		expect(t, w, 503, "unavailable")
		if w.Header().Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	// A token that needs no Redis to be refused is still a 401.
	expect(t, h.verify("GET", "", "x.y.z"), 401, "invalid_token")
}

func TestVerifyNeverRedirects(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	p := h.login()
	for _, path := range []string{"/auth/verify/", "/auth/Verify", "/auth//verify", "/auth/verify/x"} {
		w := h.do(req{method: "GET", path: path, header: bearer(p.AccessToken)})
		expect(t, w, 404, "not_found")
		if loc := w.Header().Get("Location"); loc != "" {
			t.Fatalf("%s: Location %q", path, loc)
		}
	}
	w := h.do(req{method: "POST", path: "/auth/verify", header: bearer(p.AccessToken), ctype: form, body: strings.Repeat("a", 9000)})
	expect(t, w, 413, "invalid_request")
}

func TestVerifyMetricsAndLog(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil)
	p := h.login()
	allowed(t, h.verify("GET", "", p.AccessToken), map[string]string{"X-Auth-User": h.user,
		"X-Auth-Session": h.currentSession(p.AccessToken), "X-Auth-Roles": "user", "X-Auth-Amr": "pwd"})
	h.verify("HEAD", "", p.AccessToken)
	expect(t, h.verify("GET", "", ""), 401, "invalid_token")
	expect(t, h.verify("GET", "?role=admin", p.AccessToken), 403, "forbidden")
	b.Mini.Close()
	expect(t, h.verify("GET", "", p.AccessToken), 503, "unavailable")

	text := h.do(req{method: "GET", path: "/metrics"}).Body.String()
	for _, line := range []string{
		`jwt_verify_total{outcome="allowed"} 2`,
		`jwt_verify_total{outcome="unauthenticated"} 1`,
		`jwt_verify_total{outcome="forbidden"} 1`,
		`jwt_verify_total{outcome="unavailable"} 1`,
		`http_requests_total{method="HEAD",route="/auth/verify",status="200"} 1`,
		`jwt_tokens_rejected_total{reason="missing"} 1`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	// The access log tells the outcomes apart by status and reason, and
	// holds neither the query nor the token.
	logged := h.log.String()
	for _, line := range []string{
		"route=/auth/verify status=200",
		"route=/auth/verify status=401",
		`route=/auth/verify status=403`,
		"route=/auth/verify status=503",
		`reason="forbidden: a required role is missing"`,
		`reason="token missing"`,
	} {
		if !strings.Contains(logged, line) {
			t.Errorf("the access log lacks %q", line)
		}
	}
	if strings.Contains(logged, "role=admin") {
		t.Error("the access log holds the query string")
	}
}
