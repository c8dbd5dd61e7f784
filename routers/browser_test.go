package routers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

func TestCORS(t *testing.T) {
	b := testkit.Backends(t)[0]
	const app = "https://app.example"
	preflight := func(h *harness, origin string) *httptest.ResponseRecorder {
		return h.do(req{method: "OPTIONS", path: "/public/login", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}})
	}
	t.Run("off by default: no CORS headers", func(t *testing.T) {
		h := newHarness(t, b, nil)
		w := h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"Origin": app}})
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin %q", got)
		}
	})
	t.Run("listed origin: preflight and credentials", func(t *testing.T) {
		h := newHarness(t, b, map[string]string{"CORS_ORIGINS": app + ",https://other.example"})
		w := preflight(h, app)
		hd := w.Header()
		if w.Code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != app || hd.Get("Access-Control-Allow-Credentials") != "true" ||
			hd.Get("Access-Control-Max-Age") != "600" || !strings.Contains(strings.ToLower(hd.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight %d %v", w.Code, hd)
		}
		w = h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"Origin": app}})
		if w.Header().Get("Access-Control-Allow-Origin") != app || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Fatalf("simple request headers %v", w.Header())
		}
	})
	t.Run("unlisted origin gets no CORS headers but a normal answer", func(t *testing.T) {
		h := newHarness(t, b, map[string]string{"CORS_ORIGINS": app})
		w := h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"Origin": "https://evil.example"}})
		expect(t, w, 200, "pong")
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin %q for an unlisted origin", got)
		}
		if w := preflight(h, "https://evil.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight of an unlisted origin allowed: %v", w.Header())
		}
	})
	t.Run("* allows any origin without credentials", func(t *testing.T) {
		h := newHarness(t, b, map[string]string{"CORS_ORIGINS": "*"})
		w := h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"Origin": app}})
		if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("headers %v", w.Header())
		}
	})
}

// cookieOf returns the refresh cookie a response sets, nil if none.
func cookieOf(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "go_jwt_refresh" {
			return c
		}
	}
	return nil
}

func TestRefreshCookie(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		const app = "https://app.example"
		h := newHarness(t, b, map[string]string{"REFRESH_COOKIE": "on", "CORS_ORIGINS": app})
		loginW := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form})
		p := decodePair(t, loginW)
		ck := cookieOf(loginW)
		if ck == nil || ck.Value != p.RefreshToken || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/public" || ck.MaxAge != 604800 {
			t.Fatalf("login cookie %+v", ck)
		}
		withCookie := func(value string, header map[string]string) req {
			hd := map[string]string{"Cookie": "go_jwt_refresh=" + value}
			for k, v := range header {
				hd[k] = v
			}
			return req{method: "POST", path: "/public/refresh", header: hd}
		}
		// CSRF: the cookie alone is not enough.
		expect(t, h.do(withCookie(p.RefreshToken, nil)), 403, "invalid_request")
		expect(t, h.do(withCookie(p.RefreshToken, map[string]string{"X-Requested-With": "fetch", "Origin": "https://evil.example"})), 403, "invalid_request")
		// From an allowed page it rotates and sets the next cookie.
		w := h.do(withCookie(p.RefreshToken, map[string]string{"X-Requested-With": "fetch", "Origin": app}))
		np := decodePair(t, w)
		if ck := cookieOf(w); ck == nil || ck.Value != np.RefreshToken {
			t.Fatalf("refresh cookie %+v", ck)
		}
		// The old cookie is now a reused token: 401, and the cookie is cleared.
		w = h.do(withCookie(p.RefreshToken, map[string]string{"X-Requested-With": "fetch"}))
		expect(t, w, 401, "invalid_token")
		if ck := cookieOf(w); ck == nil || ck.MaxAge >= 0 {
			t.Fatalf("dead cookie not cleared: %+v", ck)
		}

		// Bearer clients work unchanged in cookie mode; logout clears the cookie.
		q := h.login()
		q2 := decodePair(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(q.RefreshToken)}))
		w = h.do(req{method: "POST", path: "/user/logout", header: bearer(q2.AccessToken)})
		expect(t, w, 200, "Logout success")
		if ck := cookieOf(w); ck == nil || ck.MaxAge >= 0 || ck.Path != "/public" {
			t.Fatalf("logout does not clear the cookie: %+v", ck)
		}
	})
}

func TestRefreshCookieSecureRelaxedOnlyForLocalDevelopment(t *testing.T) {
	b := testkit.Backends(t)[0]
	for _, tt := range []struct {
		name, host string
		release    bool
		secure     bool
	}{
		{"public host", "auth.example", false, true},
		{"loopback in development", "127.0.0.1:9090", false, false},
		{"localhost in development", "localhost:9090", false, false},
		{"loopback in release mode", "127.0.0.1:9090", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"REFRESH_COOKIE": "on"}
			if tt.release {
				env["GIN_MODE"] = "release"
			}
			h := newHarness(t, b, env)
			w := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form,
				header: map[string]string{"Host": tt.host}})
			ck := cookieOf(w)
			if ck == nil || ck.Secure != tt.secure {
				t.Fatalf("cookie %+v, want Secure=%v", ck, tt.secure)
			}
		})
	}
}

func TestNoCookieWhenCookieModeIsOff(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"REFRESH_COOKIE": "off"})
	w := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form})
	if ck := cookieOf(w); ck != nil {
		t.Fatalf("cookie set with REFRESH_COOKIE off: %+v", ck)
	}
	p := decodePair(t, w)
	// A cookie sent anyway is ignored.
	expect(t, h.do(req{method: "POST", path: "/public/refresh", header: map[string]string{"Cookie": "go_jwt_refresh=" + p.RefreshToken, "X-Requested-With": "x"}}), 401, "invalid_token")
}

// TestBearerRefreshInDefaultCookieMode: cookie mode is on by default outside
// release mode (SPEC §3), and a refresh token in the Authorization header is
// still taken as it is, with no CSRF check (a cross-site page cannot set that
// header), even when a browser also sends a cookie.
func TestBearerRefreshInDefaultCookieMode(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	w := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form})
	p := decodePair(t, w)
	if ck := cookieOf(w); ck == nil || ck.Value != p.RefreshToken {
		t.Fatalf("default run: login sets no refresh cookie: %+v", ck)
	}
	other := h.login()
	// A header-borne refresh, without X-Requested-With, with another
	// session's cookie beside it: the header wins and no CSRF check applies.
	hd := bearer(p.RefreshToken)
	hd["Cookie"] = "go_jwt_refresh=" + other.RefreshToken
	for _, method := range []string{"GET", "POST"} {
		np := decodePair(t, h.do(req{method: method, path: "/public/refresh", header: hd}))
		hd = bearer(np.RefreshToken)
		hd["Cookie"] = "go_jwt_refresh=" + other.RefreshToken
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+h.user)
	}
	// The other session was not touched by the cookie that came along.
	decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(other.RefreshToken)}))
}

func TestDemoPage(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil) // on by default outside release mode
	for path, ctype := range map[string]string{"/": "text/html", "/app.js": "text/javascript", "/dpop.js": "text/javascript", "/mfa.js": "text/javascript", "/passkeys.js": "text/javascript", "/style.css": "text/css"} {
		w := h.do(req{method: "GET", path: path})
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() < 100 ||
			!strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("%s: %d %v", path, w.Code, w.Header())
		}
	}
	off := newHarness(t, b, map[string]string{"GIN_MODE": "release"})
	expect(t, off.do(req{method: "GET", path: "/"}), 404, "not_found")
}
