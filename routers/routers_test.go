package routers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/initialize"
	"go-jwt/metrics"
	"go-jwt/test/testkit"
	"go-jwt/utils/accounts"
)

func init() { gin.SetMode(gin.TestMode) }

// harness is the production router (built by initialize.Router) on one
// Redis backend, with a settable clock and a captured log.
type harness struct {
	t       testing.TB
	router  *gin.Engine
	clock   *testkit.Clock
	backend testkit.Backend
	log     *bytes.Buffer
	metrics *metrics.Metrics
	// accounts is the account store of the router's configuration, as the
	// operator command line builds it: tests make admins with it.
	accounts *accounts.Store
	user     string // a demo user made for this test, password "123"
	// ip is this harness's client address: rate-limit budgets are per IP,
	// so tests sharing one Redis must not share one.
	ip string
}

// newHarness builds the router with env on top of test defaults.
func newHarness(t testing.TB, b testkit.Backend, env map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, clock: testkit.NewClock(), backend: b, log: new(bytes.Buffer), user: testkit.Name(t)}
	vars := map[string]string{
		"JWT_SECRET":        "test-secret-test-secret-test-secret",
		"DATA_KEY":          dataKey,
		"DEMO_USER":         h.user + ":123",
		"ARGON2_MEMORY_KIB": "1024", // cheap hashes: tests are not about cost
		"ARGON2_TIME":       "1",
	}
	for k, v := range env {
		vars[k] = v
	}
	h.user, _, _ = strings.Cut(vars["DEMO_USER"], ":")
	h.ip = testkit.IP(t)
	cfg, err := initialize.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(h.log, runLog), nil))
	h.metrics = metrics.New()
	h.router, err = initialize.Router(t.Context(), cfg, b.Client, log, h.metrics, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, h.accounts, _, err = initialize.Accounts(t.Context(), cfg, b.Client, log, h.clock.Now, nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// eachBackend runs f against miniredis and, when configured, real Redis.
func eachBackend(t *testing.T, f func(t *testing.T, b testkit.Backend)) {
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// req is one request: method, path, body with its content type, headers.
type req struct {
	method, path string
	body         string
	ctype        string
	header       map[string]string
}

func (h *harness) do(r req) *httptest.ResponseRecorder {
	h.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.RemoteAddr = h.ip + ":40000"
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if host := r.header["Host"]; host != "" {
		hr.Host = host
	}
	w := httptest.NewRecorder()
	h.router.ServeHTTP(w, hr)
	checkResponse(h.t, hr, w) // every answer as docs/openapi.yaml says
	return w
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

const form = "application/x-www-form-urlencoded"

// dataKey is the tests' DATA_KEY (required in release mode); TestMain fails
// the run if the log holds it.
const dataKey = "test-data-key-test-data-key-test-data-key"

// pair is the token pair answer.
type pair struct {
	AccessToken      string `json:"accessToken"`
	RefreshToken     string `json:"refreshToken"`
	TokenType        string `json:"tokenType"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
}

func (h *harness) login() pair {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form})
	return decodePair(h.t, w)
}

func decodePair(t testing.TB, w *httptest.ResponseRecorder) pair {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var p pair
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
		t.Fatalf("token pair %q: %v", w.Body, err)
	}
	given.add(p.AccessToken, p.RefreshToken)
	return p
}

// expect checks status, error code (for errors) or exact body (otherwise).
func expect(t testing.TB, w *httptest.ResponseRecorder, status int, codeOrBody string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if status < 400 {
		if codeOrBody != "" && w.Body.String() != codeOrBody {
			t.Fatalf("body %q, want %q", w.Body, codeOrBody)
		}
		return
	}
	var e struct{ Error, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %q", w.Body)
	}
	if e.Error != codeOrBody || e.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", e, codeOrBody)
	}
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("error Content-Type %q", w.Header().Get("Content-Type"))
	}
}

func TestTutorialSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, map[string]string{"DEMO_USER": "kesa:123"})
		expect(t, h.do(req{method: "GET", path: "/public/ping"}), 200, "pong")

		// curl -X POST .../public/login -d 'username=kesa&&password=123'
		w := h.do(req{method: "POST", path: "/public/login", body: "username=kesa&&password=123", ctype: form})
		p := decodePair(t, w)
		if cookieOf(w) == nil { // curl ignores it: the lines below must work without it
			t.Fatal("the default run sets no refresh cookie: REFRESH_COOKIE should default to on outside release mode")
		}
		if h := w.Header(); h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" ||
			h.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("token answer Cache-Control %q, Pragma %q, Content-Type %q", h.Get("Cache-Control"), h.Get("Pragma"), h.Get("Content-Type"))
		}
		if p.TokenType != "Bearer" || p.ExpiresIn != 900 || p.RefreshExpiresIn != 604800 {
			t.Fatalf("pair %+v", p)
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 200, "Welcome ! kesa")

		w = h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)})
		np := decodePair(t, w)
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 401, "invalid_token")
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! kesa")

		expect(t, h.do(req{method: "GET", path: "/user/logout", header: bearer(np.AccessToken)}), 200, "Logout success")
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 401, "invalid_token")

		logged := h.log.String()
		if !strings.Contains(logged, "route=/user/welcome") {
			t.Fatalf("no access log line: %q", logged)
		}
		for _, secret := range []string{p.AccessToken, p.RefreshToken, np.AccessToken, np.RefreshToken,
			strings.Split(np.AccessToken, ".")[2], "test-secret-test-secret", "password=123"} {
			if strings.Contains(logged, secret) {
				t.Fatalf("the log holds a token, the secret or a password: %q", secret)
			}
		}
	})
}

func TestLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		_ = mw.WriteField("username", h.user)
		_ = mw.WriteField("password", "123")
		_ = mw.Close()
		tests := []struct {
			name   string
			r      req
			status int
			code   string
		}{
			{"urlencoded form", req{body: "username=" + h.user + "&password=123", ctype: form}, 200, ""},
			{"JSON", req{body: `{"username":"` + h.user + `","password":"123"}`, ctype: "application/json"}, 200, ""},
			{"JSON with charset", req{body: `{"username":"` + h.user + `","password":"123"}`, ctype: "application/json; charset=utf-8"}, 200, ""},
			{"multipart form", req{body: mp.String(), ctype: mw.FormDataContentType()}, 200, ""},
			{"username in another case", req{body: "username=" + strings.ToUpper(h.user) + "&password=123", ctype: form}, 200, ""},
			{"wrong password", req{body: "username=" + h.user + "&password=1234", ctype: form}, 401, "invalid_credentials"},
			{"unknown user", req{body: "username=nobody-here&password=123", ctype: form}, 401, "invalid_credentials"},
			{"invalid username", req{body: "username=a{b}c&password=123", ctype: form}, 401, "invalid_credentials"},
			{"missing password", req{body: "username=" + h.user, ctype: form}, 400, "invalid_request"},
			{"empty body", req{}, 400, "invalid_request"},
			{"malformed JSON", req{body: `{"username":`, ctype: "application/json"}, 400, "invalid_request"},
			{"JSON array", req{body: `["a"]`, ctype: "application/json"}, 400, "invalid_request"},
			{"JSON number as password", req{body: `{"username":"x","password":123}`, ctype: "application/json"}, 400, "invalid_request"},
			{"two JSON values", req{body: `{"username":"x","password":"y"}{}`, ctype: "application/json"}, 400, "invalid_request"},
			{"unsupported content type", req{body: "<xml/>", ctype: "application/xml"}, 415, "invalid_request"},
			{"unparsable content type", req{body: "x", ctype: "what;;="}, 415, "invalid_request"},
			{"body over the limit", req{body: "username=x&password=" + strings.Repeat("a", 9000), ctype: form}, 413, "invalid_request"},
			{"JSON body over the limit", req{body: `{"username":"x","password":"` + strings.Repeat("a", 9000) + `"}`, ctype: "application/json"}, 413, "invalid_request"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.r.method, tt.r.path = "POST", "/public/login"
				w := h.do(tt.r)
				expect(t, w, tt.status, tt.code)
				if tt.status == 200 {
					decodePair(t, w)
				}
			})
		}
		// Unknown user and wrong password must not be told apart by the body.
		a := h.do(req{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=bad", ctype: form})
		c := h.do(req{method: "POST", path: "/public/login", body: "username=nobody-here&password=bad", ctype: form})
		if a.Body.String() != c.Body.String() {
			t.Fatalf("bodies differ: %s vs %s", a.Body, c.Body)
		}
	})
}

func TestRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		tests := []struct {
			name string
			run  func(t *testing.T, h *harness)
		}{
			{"POST with JSON body", func(t *testing.T, h *harness) {
				p := h.login()
				w := h.do(req{method: "POST", path: "/public/refresh", body: `{"refreshToken":"` + p.RefreshToken + `"}`, ctype: "application/json"})
				decodePair(t, w)
			}},
			{"POST with Bearer header", func(t *testing.T, h *harness) {
				decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: bearer(h.login().RefreshToken)}))
			}},
			{"access token refused on refresh", func(t *testing.T, h *harness) {
				w := h.do(req{method: "GET", path: "/public/refresh", header: bearer(h.login().AccessToken)})
				expect(t, w, 401, "invalid_token")
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Fatalf("WWW-Authenticate %q", got)
				}
			}},
			{"no token", func(t *testing.T, h *harness) {
				w := h.do(req{method: "GET", path: "/public/refresh"})
				expect(t, w, 401, "invalid_token")
				if got := w.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Fatalf("WWW-Authenticate %q", got)
				}
			}},
			{"empty JSON body", func(t *testing.T, h *harness) {
				expect(t, h.do(req{method: "POST", path: "/public/refresh", body: `{}`, ctype: "application/json"}), 401, "invalid_token")
			}},
			{"malformed JSON body", func(t *testing.T, h *harness) {
				expect(t, h.do(req{method: "POST", path: "/public/refresh", body: `{`, ctype: "application/json"}), 400, "invalid_request")
			}},
			{"reuse revokes the session", func(t *testing.T, h *harness) {
				p := h.login()
				np := decodePair(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
				expect(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}), 401, "invalid_token")
				expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 401, "invalid_token")
				expect(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(np.RefreshToken)}), 401, "invalid_token")
				if !strings.Contains(h.log.String(), "refresh token reuse") {
					t.Fatal("reuse is not logged as a security event")
				}
			}},
			{"reuse within the grace keeps the session", func(t *testing.T, h *harness) {
				g := newHarness(t, h.backend, map[string]string{"REFRESH_REUSE_GRACE": "5s"})
				p := g.login()
				np := decodePair(t, g.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
				expect(t, g.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}), 401, "invalid_token")
				expect(t, g.do(req{method: "GET", path: "/user/welcome", header: bearer(np.AccessToken)}), 200, "Welcome ! "+g.user)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.run(t, newHarness(t, b, nil)) })
		}
	})
}

func TestPrivateRoutes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		routes := 0
		for _, r := range h.router.Routes() {
			if !strings.HasPrefix(r.Path, "/user/") {
				continue
			}
			routes++
			path := strings.ReplaceAll(r.Path, ":id", "00000000-0000-0000-0000-000000000000")
			t.Run(r.Method+" "+r.Path, func(t *testing.T) {
				for _, c := range []struct {
					name      string
					header    map[string]string
					challenge string
				}{
					{"no token", nil, "Bearer"},
					{"refresh token", bearer(p.RefreshToken), `Bearer error="invalid_token"`},
					{"basic auth", map[string]string{"Authorization": "Basic a2VzYToxMjM="}, `Bearer error="invalid_token"`},
					{"garbage token", bearer("x.y.z"), `Bearer error="invalid_token"`},
					{"bearer without token", map[string]string{"Authorization": "Bearer"}, `Bearer error="invalid_token"`},
				} {
					w := h.do(req{method: r.Method, path: path, header: c.header})
					expect(t, w, 401, "invalid_token")
					if got := w.Header().Get("WWW-Authenticate"); got != c.challenge {
						t.Fatalf("%s: WWW-Authenticate %q, want %q", c.name, got, c.challenge)
					}
				}
			})
		}
		if routes < 3 {
			t.Fatalf("only %d private routes found", routes)
		}
	})
}

func TestAuthorizationScheme(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "  Bearer "} {
			w := h.do(req{method: "GET", path: "/user/welcome", header: map[string]string{"Authorization": scheme + " " + p.AccessToken}})
			expect(t, w, 200, "Welcome ! "+h.user)
		}
	})
}

func TestLogoutRevokesBothTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		other := h.login()
		p := h.login()
		expect(t, h.do(req{method: "POST", path: "/user/logout", header: bearer(p.AccessToken)}), 200, "Logout success")
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 401, "invalid_token")
		expect(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}), 401, "invalid_token")
		expect(t, h.do(req{method: "GET", path: "/user/logout", header: bearer(p.AccessToken)}), 401, "invalid_token")
		// Another session of the same user lives on.
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(other.AccessToken)}), 200, "Welcome ! "+h.user)
	})
}

func TestExpiredAccessToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		p := h.login()
		h.clock.Advance(15 * time.Minute)
		w := h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)})
		expect(t, w, 401, "invalid_token")
		if !strings.Contains(w.Body.String(), "expired") {
			t.Fatalf("message should say expired: %s", w.Body)
		}
		decodePair(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
	})
}

func TestOperationsAndUnknownRoutes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		expect(t, h.do(req{method: "GET", path: "/healthz"}), 200, "")
		expect(t, h.do(req{method: "GET", path: "/readyz"}), 200, "")
		expect(t, h.do(req{method: "GET", path: "/no/such/route"}), 404, "not_found")
		expect(t, h.do(req{method: "DELETE", path: "/public/login"}), 404, "not_found")
		w := h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"X-Request-ID": "abc-123"}})
		if w.Header().Get("X-Request-ID") != "abc-123" {
			t.Fatalf("request id not echoed: %q", w.Header().Get("X-Request-ID"))
		}
		w = h.do(req{method: "GET", path: "/public/ping", header: map[string]string{"X-Request-ID": "bad id\nwith newline"}})
		if id := w.Header().Get("X-Request-ID"); id == "" || strings.ContainsAny(id, " \n") {
			t.Fatalf("unsafe request id kept: %q", id)
		}
	})
}

func TestRedisDownIs503NotA401(t *testing.T) {
	b := testkit.Backends(t)[0] // miniredis: the test may close it
	h := newHarness(t, b, nil)
	p := h.login()
	b.Mini.Close()
	for _, r := range []req{
		{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)},
		{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)},
		{method: "POST", path: "/public/login", body: "username=" + h.user + "&password=123", ctype: form},
		{method: "GET", path: "/user/logout", header: bearer(p.AccessToken)},
		{method: "GET", path: "/readyz"},
	} {
		w := h.do(r)
		expect(t, w, 503, "unavailable")
		if w.Header().Get("Retry-After") == "" {
			t.Fatalf("%s %s: 503 without Retry-After", r.method, r.path)
		}
	}
	// A forged or expired token is still a 401: only a real outage is a 503.
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer("x.y.z")}), 401, "invalid_token")
}
