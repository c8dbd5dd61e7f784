package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"go-jwt/test/testkit"
	"go-jwt/utils"
)

const introspectSecret = "introspect-secret-introspect-secret"

// introspect asks whether token is live, as another service would.
func (h *harness) introspect(token string) map[string]any {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/public/introspect", body: "token=" + url.QueryEscape(token), ctype: form,
		header: bearer(introspectSecret)})
	expect(h.t, w, 200, "")
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		h.t.Fatalf("Cache-Control %q", got)
	}
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		h.t.Fatal(err)
	}
	if out["active"] == false && len(out) != 1 {
		h.t.Fatalf("inactive answer %s: it must say nothing more", w.Body)
	}
	return out
}

func active(t *testing.T, got map[string]any, typ, user string) {
	t.Helper()
	if got["active"] != true || got["token_type"] != typ || got["username"] != user || got["sub"] != user || got["iss"] != "jwt-demo" {
		t.Fatalf("introspection %v, want an active %s token of %s", got, typ, user)
	}
}

func inactive(t *testing.T, got map[string]any) {
	t.Helper()
	if got["active"] != false {
		t.Fatalf("introspection %v, want inactive", got)
	}
}

func TestIntrospect(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		private, _, _ := keyFiles(t, utils.AlgEdDSA)
		for name, env := range map[string]map[string]string{
			"HS256": {"INTROSPECT_SECRET": introspectSecret},
			"EdDSA": {"INTROSPECT_SECRET": introspectSecret, "JWT_ALG": "EdDSA", "JWT_PRIVATE_KEY": private, "JWT_SECRET": ""},
		} {
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, b, env)
				p := h.login()
				a := h.introspect(p.AccessToken)
				active(t, a, "access", h.user)
				if exp, iat := a["exp"].(float64), a["iat"].(float64); exp-iat != 900 || a["jti"] == "" || a["sid"] == "" {
					t.Fatalf("claims %v", a)
				}
				if roles, _ := a["roles"].([]any); len(roles) != 1 || roles[0] != "user" {
					t.Fatalf("access token roles %v, want the default [user]", a["roles"])
				}
				r := h.introspect(p.RefreshToken)
				active(t, r, "refresh", h.user)
				if _, ok := r["roles"]; ok {
					t.Fatalf("refresh token introspected with roles %v: it carries none", r["roles"])
				}

				for _, tok := range []string{"garbage", "x.y.z", p.AccessToken + "x", strings.ToUpper(p.AccessToken)} {
					inactive(t, h.introspect(tok))
				}

				// Introspecting is not using: the refresh token still rotates once.
				np := decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(p.RefreshToken)}))
				inactive(t, h.introspect(p.AccessToken))
				inactive(t, h.introspect(p.RefreshToken))
				// ...and asking about the rotated-away refresh token revoked nothing.
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+h.user)
				active(t, h.introspect(np.AccessToken), "access", h.user)
				active(t, h.introspect(np.RefreshToken), "refresh", h.user)

				expect(t, h.do(req{method: "POST", path: "/user/logout", header: bearer(np.AccessToken)}), 200, "Logout success")
				inactive(t, h.introspect(np.AccessToken))
				inactive(t, h.introspect(np.RefreshToken))

				// Expiry follows the clock: the access token dies, the refresh token lives on.
				q := h.login()
				h.clock.Advance(15 * time.Minute)
				inactive(t, h.introspect(q.AccessToken))
				active(t, h.introspect(q.RefreshToken), "refresh", h.user)

				if strings.Contains(h.log.String(), introspectSecret) {
					t.Fatal("the log holds the introspection secret")
				}
			})
		}
	})
}

func TestIntrospectRequests(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"INTROSPECT_SECRET": introspectSecret})
	p := h.login()
	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	body := "token=" + p.AccessToken
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"Bearer secret", req{body: body, ctype: form, header: bearer(introspectSecret)}, 200, ""},
		{"Basic, any user", req{body: body, ctype: form, header: basic("orders-service", introspectSecret)}, 200, ""},
		{"JSON body with a hint", req{body: `{"token":"` + p.RefreshToken + `","token_type_hint":"refresh_token"}`, ctype: "application/json", header: bearer(introspectSecret)}, 200, ""},
		{"multipart form", req{body: "--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + p.AccessToken + "\r\n--x--\r\n",
			ctype: "multipart/form-data; boundary=x", header: bearer(introspectSecret)}, 200, ""},
		{"no credentials", req{body: body, ctype: form}, 401, "invalid_credentials"},
		{"wrong secret", req{body: body, ctype: form, header: bearer(introspectSecret + "!")}, 401, "invalid_credentials"},
		{"wrong Basic password", req{body: body, ctype: form, header: basic(introspectSecret, "x")}, 401, "invalid_credentials"},
		{"the user's access token instead of the secret", req{body: body, ctype: form, header: bearer(p.AccessToken)}, 401, "invalid_credentials"},
		{"no token", req{body: "token_type_hint=access_token", ctype: form, header: bearer(introspectSecret)}, 400, "invalid_request"},
		{"malformed JSON", req{body: `{"token":`, ctype: "application/json", header: bearer(introspectSecret)}, 400, "invalid_request"},
		{"unsupported content type", req{body: "<token/>", ctype: "application/xml", header: bearer(introspectSecret)}, 415, "invalid_request"},
		{"body over the limit", req{body: "token=" + strings.Repeat("a", 9000), ctype: form, header: bearer(introspectSecret)}, 413, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.method, tt.r.path = "POST", "/public/introspect"
			w := h.do(tt.r)
			expect(t, w, tt.status, tt.code)
			if tt.status == 200 && !strings.Contains(w.Body.String(), `"active":true`) {
				t.Fatalf("body %s, want active", w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); (tt.status == 401) != (got == `Basic realm="introspect"`) {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		})
	}
}

func TestIntrospectOnlyWhenConfigured(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	p := h.login()
	w := h.do(req{method: "POST", path: "/public/introspect", body: "token=" + p.AccessToken, ctype: form, header: bearer(introspectSecret)})
	expect(t, w, 404, "not_found")
}

func TestIntrospectRedisDownIs503(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, map[string]string{"INTROSPECT_SECRET": introspectSecret})
	p := h.login()
	b.Mini.Close()
	for _, tok := range []string{p.AccessToken, p.RefreshToken} {
		w := h.do(req{method: "POST", path: "/public/introspect", body: "token=" + tok, ctype: form, header: bearer(introspectSecret)})
		expect(t, w, 503, "unavailable")
	}
	// A forged token needs no Redis to be inactive.
	inactive(t, h.introspect("x.y.z"))
}
