package routers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"go-jwt/docs"
	"go-jwt/test/testkit"
)

// api is docs/openapi.yaml, loaded and validated once for the whole run:
// harness.do checks every answer of every HTTP test against it.
var api struct {
	once sync.Once
	err  error
	doc  *openapi3.T
	// router finds a request's operation. The legacy router matches the
	// decoded URL.Path, as gin does (gorillamux matches the escaped one).
	router routers.Router
	// unknown stands for every request the document has no operation for:
	// its only allowed answer is 404 not_found.
	unknown *routers.Route
}

func loadAPI() error {
	// The document's formats that kin-openapi does not define itself.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122))
	// Bodies kin-openapi has no decoder for: plain text, as far as a schema
	// of type string goes.
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		return fmt.Errorf("load docs/openapi.yaml: %w", err)
	}
	if err := doc.Validate(new(http.Request).Context(), openapi3.EnableSchemaFormatValidation()); err != nil {
		return fmt.Errorf("docs/openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	if api.router, err = legacy.NewRouter(doc); err != nil {
		return fmt.Errorf("route docs/openapi.yaml: %w", err)
	}
	notFound := doc.Components.Responses["NotFound"]
	if notFound == nil {
		return fmt.Errorf("docs/openapi.yaml has no components/responses/NotFound")
	}
	api.doc = doc
	api.unknown = &routers.Route{Spec: doc, Path: "(no such route)", Operation: &openapi3.Operation{
		Responses: openapi3.NewResponses(openapi3.WithStatus(http.StatusNotFound, notFound)),
	}}
	return nil
}

func openAPI(t testing.TB) bool {
	t.Helper()
	api.once.Do(func() { api.err = loadAPI() })
	if api.err != nil {
		t.Error(api.err)
		return false
	}
	return true
}

// checkResponse fails t unless w, the answer to req, is what
// docs/openapi.yaml says: a documented status of the request's operation,
// its content type, body schema and headers (X-Request-ID, Retry-After,
// WWW-Authenticate, Cache-Control where documented; undocumented extra
// headers are fine). A request the document has no operation for must get
// 404 not_found, or gin's redirect to a documented path (trailing slash).
// Benchmarks are not checked: the check would be part of what they time.
func checkResponse(t testing.TB, req *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	if _, bench := t.(*testing.B); bench || !openAPI(t) {
		return
	}
	if isPreflight(req) && w.Code < 300 {
		return // the CORS middleware's own answer, not an operation of the API
	}
	route, params, err := api.router.FindRoute(req)
	if err != nil {
		if loc := w.Header().Get("Location"); isRedirect(w.Code) && loc != "" {
			target := req.Clone(req.Context())
			if target.URL, err = req.URL.Parse(loc); err == nil {
				_, _, err = api.router.FindRoute(target)
			}
			if err != nil {
				t.Errorf("%s %s: %d redirect to %q, which is not in docs/openapi.yaml: %v", req.Method, req.URL.Path, w.Code, loc, err)
			}
			return
		}
		route, params = api.unknown, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 w.Code,
		Header:                 w.Result().Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(bytes.Clone(w.Body.Bytes()))
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		t.Errorf("%s %s (operation %q): the %d answer disagrees with docs/openapi.yaml: %v\nbody: %.500q",
			req.Method, req.URL.Path, route.Path, w.Code, err, w.Body.String())
	}
}

func isRedirect(status int) bool {
	return status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// isPreflight tells a CORS preflight request.
func isPreflight(req *http.Request) bool {
	return req.Method == http.MethodOptions && req.Header.Get("Origin") != "" && req.Header.Get("Access-Control-Request-Method") != ""
}

// ginParam is a gin path parameter (:id) or catch-all (*path).
var ginParam = regexp.MustCompile(`[:*](\w+)`)

// demoPage are the operations of the demo front end, which another change
// brings: until the router has a GET / they may be missing from it.
var demoPage = []string{"GET /", "GET /app.js", "GET /dpop.js", "GET /mfa.js", "GET /passkeys.js", "GET /style.css"}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	if !openAPI(t) {
		t.FailNow()
	}
	// Every optional route on: the document must name each of them.
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"DEMO_PAGE": "on", "REGISTRATION": "on", "METRICS_ADDR": "",
		"INTROSPECT_SECRET": "introspect-secret-introspect-secret"})
	registered := map[string]bool{}
	for _, r := range h.router.Routes() {
		registered[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range api.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, op := range sortedKeys(registered) {
		if !documented[op] {
			t.Errorf("route %s is not in docs/openapi.yaml", op)
		}
	}
	for _, op := range sortedKeys(documented) {
		if !registered[op] && (registered["GET /"] || !slices.Contains(demoPage, op)) {
			t.Errorf("docs/openapi.yaml has %s, which the router does not serve", op)
		}
	}
	if len(registered) < 15 {
		t.Fatalf("only %d routes registered: %v", len(registered), sortedKeys(registered))
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], nil)
	w := h.do(req{method: "GET", path: "/openapi.yaml"})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/yaml" || !bytes.Equal(w.Body.Bytes(), docs.OpenAPI) {
		t.Fatalf("GET /openapi.yaml: %d %q, %d bytes; want 200 application/yaml, docs/openapi.yaml", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
}

// checkTB records what checkResponse reports instead of failing the test.
type checkTB struct {
	testing.TB
	errs []string
}

func (c *checkTB) Helper()           {}
func (c *checkTB) Error(args ...any) { c.errs = append(c.errs, fmt.Sprint(args...)) }
func (c *checkTB) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// TestCheckResponseCatchesDisagreements proves the check is not vacuous:
// answers that the document does not allow are reported.
func TestCheckResponseCatchesDisagreements(t *testing.T) {
	const id = "X-Request-ID"
	jsonErr := func(code string) string { return `{"error":"` + code + `","message":"m"}` }
	tests := []struct {
		name         string
		method, path string
		status       int
		header       map[string]string
		body         string
		fails        bool
	}{
		{"documented answer", "GET", "/public/ping", 200, map[string]string{"Content-Type": "text/plain; charset=utf-8", id: "a"}, "pong", false},
		{"wrong text", "GET", "/public/ping", 200, map[string]string{"Content-Type": "text/plain; charset=utf-8", id: "a"}, "ping", true},
		{"undocumented status", "GET", "/public/ping", 500, map[string]string{"Content-Type": "application/json", id: "a"}, jsonErr("internal_error"), true},
		{"wrong content type", "GET", "/public/ping", 200, map[string]string{"Content-Type": "application/json", id: "a"}, `"pong"`, true},
		{"no request id", "GET", "/public/ping", 200, map[string]string{"Content-Type": "text/plain"}, "pong", true},
		{"error with the wrong code", "POST", "/public/login", 400, map[string]string{"Content-Type": "application/json", id: "a"}, jsonErr("conflict"), true},
		{"error without a message", "POST", "/public/login", 400, map[string]string{"Content-Type": "application/json", id: "a"}, `{"error":"invalid_request"}`, true},
		{"429 without Retry-After", "POST", "/public/login", 429, map[string]string{"Content-Type": "application/json", id: "a"}, jsonErr("rate_limited"), true},
		{"401 without WWW-Authenticate", "GET", "/user/welcome", 401, map[string]string{"Content-Type": "application/json", id: "a"}, jsonErr("invalid_token"), true},
		{"token pair missing a field", "POST", "/public/login", 200, map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", id: "a"},
			`{"accessToken":"a","tokenType":"Bearer","expiresIn":1,"refreshExpiresIn":1}`, true},
		{"unknown route, 404 not_found", "GET", "/no/such/route", 404, map[string]string{"Content-Type": "application/json", id: "a"}, jsonErr("not_found"), false},
		{"unknown route answered", "GET", "/no/such/route", 200, map[string]string{"Content-Type": "text/plain", id: "a"}, "hello", true},
		{"undocumented method answered", "PUT", "/public/login", 200, map[string]string{"Content-Type": "text/plain", id: "a"}, "hello", true},
		{"redirect to a documented path", "GET", "/public/ping/", 301, map[string]string{"Location": "/public/ping", id: "a"}, "", false},
		{"redirect to nowhere", "GET", "/public/pong/", 301, map[string]string{"Location": "/public/pong", id: "a"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			for k, v := range tt.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(tt.status)
			_, _ = w.WriteString(tt.body)
			rec := &checkTB{TB: t}
			checkResponse(rec, httptest.NewRequest(tt.method, (&url.URL{Path: tt.path}).String(), nil), w)
			if fails := len(rec.errs) > 0; fails != tt.fails {
				t.Fatalf("reported %v, want a failure: %v", strings.Join(rec.errs, "; "), tt.fails)
			}
		})
	}
}
