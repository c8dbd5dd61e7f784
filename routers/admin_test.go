package routers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

const jsonType = "application/json"

// admin makes name an admin as the operator command line does (`go-jwt
// user roles NAME admin user`), logs them in and returns the pair.
func (h *harness) admin(name, password string) pair {
	h.t.Helper()
	if _, err := h.accounts.SetRoles(h.t.Context(), name, []string{"admin", "user"}); err != nil {
		h.t.Fatal(err)
	}
	return h.loginAs(name, password)
}

// adminHarness is a harness whose demo user is an admin, and that admin's
// access token.
func adminHarness(t *testing.T, b testkit.Backend, env map[string]string) (*harness, string) {
	t.Helper()
	h := newHarness(t, b, env)
	return h, h.admin(h.user, "123").AccessToken
}

// newUser registers a user with password "long enough" through the API.
func (h *harness) newUser() string {
	h.t.Helper()
	name := testkit.Name(h.t)
	if code := h.register(name, "long enough"); code != 201 {
		h.t.Fatalf("register %s: %d", name, code)
	}
	return name
}

// adminDo sends an admin request with token and, when body is set, JSON.
func (h *harness) adminDo(token, method, path, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := req{method: method, path: path, header: bearer(token), body: body}
	if body != "" {
		r.ctype = jsonType
	}
	return h.do(r)
}

// adminUser is the user object of the admin routes.
type adminUser struct {
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
	Locked   bool     `json:"locked"`
	Sessions int      `json:"sessions"`
	MFA      bool     `json:"mfa"`
}

func decodeUser(t testing.TB, w *httptest.ResponseRecorder) adminUser {
	t.Helper()
	var u adminUser
	if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
		t.Fatalf("user %q: %v", w.Body, err)
	}
	return u
}

// rolesOf reads the roles claim of a token (its signature was checked by
// whoever gave it to us).
func rolesOf(t testing.TB, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Roles []string `json:"roles"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("payload of %q: %v", token, err)
	}
	return c.Roles
}

// TestAdminRoutesNeedTheAdminRole proves every route of the /admin group
// answers 401 without a valid access token and 403 forbidden to a signed-in
// user without the admin role, before it does anything.
func TestAdminRoutesNeedTheAdminRole(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login() // the demo user: default roles only
		if got := rolesOf(t, p.AccessToken); !slices.Equal(got, []string{"user"}) {
			t.Fatalf("the demo user's roles %v, want the default [user]", got)
		}
		victim := h.newUser()
		routes := 0
		for _, r := range h.router.Routes() {
			if !strings.HasPrefix(r.Path, "/admin/") {
				continue
			}
			routes++
			path := strings.ReplaceAll(r.Path, ":name", victim)
			t.Run(r.Method+" "+r.Path, func(t *testing.T) {
				for _, c := range []struct {
					name      string
					header    map[string]string
					status    int
					code      string
					challenge string
				}{
					{"no token", nil, 401, "invalid_token", "Bearer"},
					{"refresh token", bearer(p.RefreshToken), 401, "invalid_token", `Bearer error="invalid_token"`},
					{"garbage token", bearer("x.y.z"), 401, "invalid_token", `Bearer error="invalid_token"`},
					{"a user's access token", bearer(p.AccessToken), 403, "forbidden", `Bearer error="insufficient_scope"`},
				} {
					w := h.do(req{method: r.Method, path: path, header: c.header, ctype: jsonType, body: `{"roles":["admin"],"newPassword":"long enough"}`})
					expect(t, w, c.status, c.code)
					if got := w.Header().Get("WWW-Authenticate"); got != c.challenge {
						t.Fatalf("%s: WWW-Authenticate %q, want %q", c.name, got, c.challenge)
					}
				}
			})
		}
		if routes != 9 {
			t.Fatalf("%d admin routes found, want the 9 of SPEC §10", routes)
		}
		// Nothing happened to the victim: still the default roles, unlocked.
		a, err := h.accounts.Get(t.Context(), victim)
		if err != nil || !slices.Equal(a.Roles, []string{"user"}) || a.Locked {
			t.Fatalf("the refused requests changed %s: %+v %v", victim, a, err)
		}
	})
}

// TestAdminRoutes is every row of the SPEC §10 table, with its errors.
func TestAdminRoutes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, tok := adminHarness(t, b, nil)
		bob := testkit.Name(t)
		do := func(method, path, body string) *httptest.ResponseRecorder { return h.adminDo(tok, method, path, body) }

		// POST /admin/users
		w := do("POST", "/admin/users", `{"username":"`+strings.ToUpper(bob)+`","password":"long enough"}`)
		expect(t, w, 201, "")
		if u := decodeUser(t, w); u.Username != bob || !slices.Equal(u.Roles, []string{"user"}) || u.Locked || u.Sessions != 0 {
			t.Fatalf("created %+v, want %s with the default roles", u, bob)
		}
		editor := testkit.Name(t)
		w = do("POST", "/admin/users", `{"username":"`+editor+`","password":"long enough","roles":["editor","billing","editor"]}`)
		expect(t, w, 201, "")
		if u := decodeUser(t, w); !slices.Equal(u.Roles, []string{"billing", "editor"}) {
			t.Fatalf("roles %v, want sorted without duplicates", u.Roles)
		}
		expect(t, do("POST", "/admin/users", `{"username":"`+bob+`","password":"long enough"}`), 409, "conflict")
		for name, body := range map[string]string{
			"bad role":         `{"username":"x` + bob + `","password":"long enough","roles":["Admin"]}`,
			"roles not a list": `{"username":"x` + bob + `","password":"long enough","roles":"admin"}`,
			"bad username":     `{"username":"a{b}c","password":"long enough"}`,
			"short password":   `{"username":"x` + bob + `","password":"short"}`,
			"missing password": `{"username":"x` + bob + `"}`,
			"unknown field":    `{"username":"x` + bob + `","password":"long enough","role":"admin"}`,
			"not JSON":         `{"username":`,
		} {
			w := do("POST", "/admin/users", body)
			expect(t, w, 400, "invalid_request")
			if name == "unknown field" && !strings.Contains(w.Body.String(), `unknown field \"role\"`) {
				t.Errorf("%s: message %s does not name the field", name, w.Body)
			}
		}
		expect(t, h.do(req{method: "POST", path: "/admin/users", header: bearer(tok), ctype: form, body: "username=x&password=y"}), 415, "invalid_request")
		if _, err := h.accounts.Get(t.Context(), "x"+bob); err == nil {
			t.Fatal("a refused create made the user")
		}

		// GET /admin/users and /admin/users/:name
		p := h.loginAs(bob, "long+enough")
		w = do("GET", "/admin/users/"+strings.ToUpper(bob), "")
		expect(t, w, 200, "")
		var got struct {
			User     adminUser
			Sessions []struct{ ID string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.User.Username != bob || got.User.Sessions != 1 || len(got.Sessions) != 1 {
			t.Fatalf("GET user: %s", w.Body)
		}
		expect(t, do("GET", "/admin/users", ""), 200, "")

		// PUT /admin/users/:name/roles
		w = do("PUT", "/admin/users/"+bob+"/roles", `{"roles":["support","user"]}`)
		expect(t, w, 200, "")
		if u := decodeUser(t, w); !slices.Equal(u.Roles, []string{"support", "user"}) || u.Sessions != 1 {
			t.Fatalf("roles answer %+v", u)
		}
		tooMany := `{"roles":["r1","r2","r3","r4","r5","r6","r7","r8","r9","r10","r11","r12","r13","r14","r15","r16","r17"]}`
		for _, body := range []string{`{"roles":["UPPER"]}`, `{"roles":["a-name-that-is-thirty-three-chars"]}`, `{"roles":["1st"]}`,
			`{"roles":[""]}`, `{"roles":["a b"]}`, `{"roles":"user"}`, `{"roles":[1]}`, `{}`, `{"roles":null}`, tooMany} {
			expect(t, do("PUT", "/admin/users/"+bob+"/roles", body), 400, "invalid_request")
		}
		if a, _ := h.accounts.Get(t.Context(), bob); !slices.Equal(a.Roles, []string{"support", "user"}) {
			t.Fatalf("a refused role change changed the roles: %v", a.Roles)
		}
		expect(t, do("PUT", "/admin/users/"+bob+"/roles", `{"roles":[]}`), 200, "")

		// lock, unlock, password, logout-all, delete: unknown names are 404.
		expect(t, do("POST", "/admin/users/"+bob+"/lock", ""), 204, "")
		expect(t, do("POST", "/admin/users/"+bob+"/unlock", ""), 204, "")
		expect(t, do("POST", "/admin/users/"+bob+"/password", `{"newPassword":"another one"}`), 204, "")
		expect(t, do("POST", "/admin/users/"+bob+"/password", `{"newPassword":"short"}`), 400, "invalid_request")
		expect(t, do("POST", "/admin/users/"+bob+"/password", `{}`), 400, "invalid_request")
		h.loginAs(bob, "another+one")
		w = do("POST", "/admin/users/"+bob+"/logout-all", "")
		expect(t, w, 200, `{"revoked":1}`)
		expect(t, do("DELETE", "/admin/users/"+bob, ""), 204, "")
		nobody := testkit.Name(t)
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/admin/users/" + nobody, ""}, {"GET", "/admin/users/a%7Bb%7D", ""}, {"GET", "/admin/users/" + bob, ""},
			{"PUT", "/admin/users/" + nobody + "/roles", `{"roles":["user"]}`},
			{"POST", "/admin/users/" + nobody + "/lock", ""}, {"POST", "/admin/users/" + nobody + "/unlock", ""},
			{"POST", "/admin/users/" + nobody + "/password", `{"newPassword":"long enough"}`},
			{"POST", "/admin/users/" + nobody + "/logout-all", ""}, {"DELETE", "/admin/users/" + nobody, ""},
		} {
			expect(t, do(r.method, r.path, r.body), 404, "not_found")
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 401, "invalid_token")
	})
}

// TestMeShowsRoles: /user/me adds the roles of the token.
func TestMeShowsRoles(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"DEFAULT_ROLES": "reader, user"})
	w := h.do(req{method: "GET", path: "/user/me", header: bearer(h.login().AccessToken)})
	var me struct{ Roles []string }
	if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil || !slices.Equal(me.Roles, []string{"reader", "user"}) {
		t.Fatalf("/user/me %s, want roles [reader user] (DEFAULT_ROLES)", w.Body)
	}
}

// TestForgedRolesClaim: a user's access token with "admin" written into its
// roles claim (signature kept), or one signed with another key, is 401.
func TestForgedRolesClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		parts := strings.Split(p.AccessToken, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		claims["roles"] = []string{"admin", "user"}
		forged, _ := json.Marshal(claims)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
		other := newHarness(t, b, map[string]string{"JWT_SECRET": "another-secret-another-secret-another", "DEMO_USER": h.user + ":123"})
		if _, err := other.accounts.SetRoles(t.Context(), h.user, []string{"admin", "user"}); err != nil {
			t.Fatal(err)
		}
		otherKey := other.login().AccessToken // an admin's token, but not signed with this service's key
		for name, tok := range map[string]string{"roles edited in": tampered, "signed with another key": otherKey} {
			w := h.do(req{method: "GET", path: "/admin/users", header: bearer(tok)})
			if w.Code != 401 {
				t.Fatalf("%s: %d %s, want 401", name, w.Code, w.Body)
			}
		}
	})
}

// TestAdminRolesPreflight: a front end on an allowed origin may send the
// PUT of a role change.
func TestAdminRolesPreflight(t *testing.T) {
	const app = "https://app.example"
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"CORS_ORIGINS": app})
	w := h.do(req{method: "OPTIONS", path: "/admin/users/bob/roles", header: map[string]string{
		"Origin": app, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization,content-type"}})
	if w.Code != 204 || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight of a PUT: %d %v", w.Code, w.Header())
	}
}
