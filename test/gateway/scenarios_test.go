package gateway

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"go-jwt/test/proc"
)

// identity is what the app got of the X-Auth-* headers: every value of
// each, by canonical name.
func identity(s seen) map[string][]string {
	out := map[string][]string{}
	for k, v := range s.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-auth") || strings.HasPrefix(strings.ToLower(k), "x_auth") {
			out[k] = v
		}
	}
	return out
}

// gatewayScenarios are what every proxy's configuration must do, in
// order (the last ones stop Redis, then the service). p is a live pair of
// r's user.
func gatewayScenarios(t *testing.T, r *rig, p proc.Pair) {
	sid := r.session(p.Access)

	t.Run("no token: 401 and the upstream saw nothing", func(t *testing.T) {
		before := r.app.count()
		a := r.do(http.MethodGet, r.gw+"/api/orders", "", nil, "")
		r.refused(a, http.StatusUnauthorized, "invalid_token", before)
		if got := a.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Fatalf("WWW-Authenticate %q, want go-jwt's Bearer", got)
		}
		a = r.do(http.MethodPost, r.gw+"/api/orders", "", map[string][]string{"X-Auth-User": {r.user}}, "order=1")
		r.refused(a, http.StatusUnauthorized, "invalid_token", before)
		a = r.do(http.MethodGet, r.gw+"/api/orders", "x.y.z", nil, "")
		r.refused(a, http.StatusUnauthorized, "invalid_token", before)
		if got := a.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	})

	t.Run("a valid token: the upstream sees the user and the session", func(t *testing.T) {
		a := r.do(http.MethodGet, r.gw+"/api/orders?page=2", p.Access, nil, "")
		if a.Status != http.StatusOK || a.Body != "app: "+r.user {
			t.Fatalf("got %v", a)
		}
		got := r.app.last(t)
		want := map[string][]string{"X-Auth-User": {r.user}, "X-Auth-Session": {sid}, "X-Auth-Roles": {"user"}, "X-Auth-Amr": {"pwd"}}
		if id := identity(got); !sameIdentity(id, want) {
			t.Fatalf("the app got identity %v, want %v (one value each)", id, want)
		}
		if got.Path != "/api/orders" || got.Query != "page=2" {
			t.Fatalf("the app got %s?%s", got.Path, got.Query)
		}
		// The subrequest (nginx asks with GET): the client's method and URI
		// in headers, its token, no body.
		sub := r.auth.last(t)
		if sub.Path != "/auth/verify" || sub.Query != "" || sub.Header.Get("X-Forwarded-Method") != "GET" ||
			sub.Header.Get("X-Forwarded-Uri") != "/api/orders?page=2" || sub.Header.Get("Authorization") != "Bearer "+p.Access {
			t.Fatalf("the verify subrequest was %s %s?%s with %v", sub.Method, sub.Path, sub.Query, sub.Header)
		}
	})

	t.Run("a request body reaches the upstream, not go-jwt", func(t *testing.T) {
		a := r.do(http.MethodPost, r.gw+"/api/orders", p.Access, map[string][]string{"Content-Type": {"text/plain"}}, "two apples")
		if a.Status != http.StatusOK {
			t.Fatalf("got %v", a)
		}
		if got := r.app.last(t); got.Method != http.MethodPost || got.Body != "two apples" {
			t.Fatalf("the app got %s %q", got.Method, got.Body)
		}
		if sub := r.auth.last(t); sub.Method != "GET" || sub.Body != "" || sub.Header.Get("Content-Length") != "" || sub.Header.Get("X-Forwarded-Method") != "POST" {
			t.Fatalf("the verify subrequest (%s) got body %q, Content-Length %q, X-Forwarded-Method %q",
				sub.Method, sub.Body, sub.Header.Get("Content-Length"), sub.Header.Get("X-Forwarded-Method"))
		}
	})

	t.Run("client-forged X-Auth headers do not survive", func(t *testing.T) {
		forged := map[string][]string{
			"X-Auth-User":    {"admin", "root"},
			"x-auth-user":    {"admin"},
			"X-Auth-Session": {"00000000-0000-0000-0000-000000000000"},
			"X-Auth-Roles":   {"admin"},
			"X-AUTH-AMR":     {"otp"},
			"X_Auth_User":    {"admin"},
		}
		a := r.do(http.MethodGet, r.gw+"/api/orders", p.Access, forged, "")
		if a.Status != http.StatusOK {
			t.Fatalf("got %v", a)
		}
		id := identity(r.app.last(t))
		if want := map[string][]string{"X-Auth-User": {r.user}, "X-Auth-Session": {sid}, "X-Auth-Roles": {"user"}, "X-Auth-Amr": {"pwd"}}; !sameIdentity(id, want) {
			t.Fatalf("the app got identity %v: a forged header survived", id)
		}
		// A page that needs no token: no identity at all, forged or not.
		a = r.do(http.MethodGet, r.gw+"/public/about", "", forged, "")
		if a.Status != http.StatusOK {
			t.Fatalf("public page: %v", a)
		}
		if id := identity(r.app.last(t)); len(id) != 0 {
			t.Fatalf("a public page got identity %v", id)
		}
	})

	t.Run("a refresh token is refused at the gateway", func(t *testing.T) {
		before := r.app.count()
		a := r.do(http.MethodGet, r.gw+"/api/orders", p.Refresh, nil, "")
		r.refused(a, http.StatusUnauthorized, "invalid_token", before)
	})

	t.Run("the role-guarded location refuses a user", func(t *testing.T) {
		before := r.app.count()
		r.refused(r.do(http.MethodGet, r.gw+"/admin/users", p.Access, nil, ""), http.StatusForbidden, "forbidden", before)
		if sub := r.auth.last(t); sub.Path != "/auth/verify" || sub.Query != "role=admin" {
			t.Fatalf("the verify subrequest asked %s?%s", sub.Path, sub.Query)
		}
		// The client's own ?role= reaches the app's URI, never go-jwt's.
		r.refused(r.do(http.MethodGet, r.gw+"/admin/users?role=user", p.Access, nil, ""), http.StatusForbidden, "forbidden", before)
		if sub := r.auth.last(t); sub.Query != "role=admin" {
			t.Fatalf("the verify subrequest asked ?%s: the client's query got in", sub.Query)
		}
	})

	t.Run("path tricks do not dodge the role guard", func(t *testing.T) {
		before := r.app.count()
		for _, path := range []string{"/admin", "/ADMIN/users", "/Admin/users", "//admin/users", "/admin//users",
			"/public/../admin/users", "/public/%2e%2e/admin/users", "/./admin/users", "/%61dmin/users"} {
			a := r.do(http.MethodGet, r.gw+path, p.Access, nil, "")
			if a.Status != http.StatusForbidden {
				t.Errorf("%s: %v, want 403", path, a)
			}
		}
		if n := r.app.count() - before; n != 0 {
			t.Fatalf("%d of them reached the app", n)
		}
	})

	// The admin is made the way an operator makes one (the command line),
	// and signs in with its password: a real token with roles [admin user].
	t.Run("the role-guarded location admits an admin", func(t *testing.T) {
		name, pass := r.addAdmin()
		a := r.do(http.MethodGet, r.gw+"/admin/users", r.loginAs(name, pass).Access, nil, "")
		if a.Status != http.StatusOK {
			t.Fatalf("admin: %v", a)
		}
		id := identity(r.app.last(t))
		if strings.Join(id["X-Auth-Roles"], "|") != "admin,user" || strings.Join(id["X-Auth-User"], "|") != name ||
			strings.Join(id["X-Auth-Amr"], "|") != "pwd" {
			t.Fatalf("the app got identity %v", id)
		}
	})

	t.Run("logout at the service: the next request through the proxy is 401", func(t *testing.T) {
		q := r.login()
		if a := r.do(http.MethodGet, r.gw+"/api/orders", q.Access, nil, ""); a.Status != http.StatusOK {
			t.Fatalf("before logout: %v", a)
		}
		if a := r.do(http.MethodPost, r.svc+"/user/logout", q.Access, nil, ""); a.Status != http.StatusOK {
			t.Fatalf("logout: %v", a)
		}
		before := r.app.count()
		r.refused(r.do(http.MethodGet, r.gw+"/api/orders", q.Access, nil, ""), http.StatusUnauthorized, "invalid_token", before)
	})

	// An outage is a 503 with Retry-After, never a 401: go-jwt's own 503
	// (Redis down), and the gateway's when go-jwt cannot be reached.
	for _, tt := range []struct {
		name       string
		stop       func()
		retryAfter string
		paths      []string
	}{
		{"Redis stopped: 503 through the proxy, not 401", r.redis.Stop, "1", []string{"/api/orders", "/admin/users"}},
		{"go-jwt unreachable: 503 through the proxy, not 401", r.service.Kill, "5", []string{"/api/orders"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.stop()
			before := r.app.count()
			for _, path := range tt.paths {
				a := r.do(http.MethodGet, r.gw+path, p.Access, nil, "")
				r.refused(a, http.StatusServiceUnavailable, "unavailable", before)
				if got := a.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Fatalf("%s: Retry-After %q, want %s", path, got, tt.retryAfter)
				}
			}
		})
	}

	// The service logged every check, and no token.
	logged, err := os.ReadFile(r.service.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), "route=/auth/verify") {
		t.Fatalf("the service log has no /auth/verify line:\n%s", proc.TailFile(r.service.LogPath, 2000))
	}
	for _, tok := range []string{p.Access, p.Refresh} {
		if strings.Contains(string(logged), tok[strings.LastIndexByte(tok, '.')+1:]) {
			t.Fatal("the service log holds a token")
		}
	}
}

// sameIdentity reports whether the identity headers the app got are exactly
// want: the same headers, each with exactly the one value.
func sameIdentity(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if strings.Join(got[k], "|") != strings.Join(v, "|") {
			return false
		}
	}
	return true
}
