package routers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/routers"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// The fuzz harness's demo user is fixed, not a fresh name: seeds are made
// in the coordinator of a fuzz run and corpus files are written once, and
// both must log in in every worker process.
const fuzzUser, fuzzPassword = "kesa", "123"

// fuzzRoutes are the routes that read credentials or a token from a body.
var fuzzRoutes = [...]struct{ method, path string }{
	{http.MethodPost, "/public/login"},
	{http.MethodPost, "/public/register"},
	{http.MethodPost, "/public/refresh"},
	{http.MethodGet, "/public/refresh"},
}

// FuzzAuthBodies sends arbitrary bodies and content types to login,
// register and refresh through the production router. Never a 5xx or a
// panic, every error is the JSON error body, and a success only for what
// the body really says, read independently of the handlers (sentFields):
// login 200 exactly for the password of an account (the demo user's or one
// registered in this process), register 201 exactly for a valid, new
// username and password, refresh 200 only for the one refresh token this
// process was given. No answer's tokens appear in the log.
//
//	go test -run '^$' -fuzz '^FuzzAuthBodies$' -fuzztime 60s ./routers/
func FuzzAuthBodies(f *testing.F) {
	m := miniredis.RunT(f)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	f.Cleanup(func() { _ = rdb.Close() })
	h := newHarness(f, testkit.Backend{Name: "miniredis", Client: rdb, Mini: m}, map[string]string{
		"DEMO_USER": fuzzUser + ":" + fuzzPassword,
		// Budgets out of reach: a 429 would hide the password check.
		"LOGIN_USER_RATE": "1000000", "LOGIN_USER_BURST": "1000000",
		"LOGIN_IP_RATE": "1000000", "LOGIN_IP_BURST": "1000000",
	})
	refresh := h.login().RefreshToken // in a worker, not the seed's (the coordinator's): 401

	// respelled has other unused low bits in the signature's last character:
	// the same signature bytes, not the token that was handed out.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	respelled := refresh[:len(refresh)-1] + string(alphabet[strings.IndexByte(alphabet, refresh[len(refresh)-1])^1])

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.SetBoundary("fuzzboundary")
	_ = mw.WriteField("username", fuzzUser)
	_ = mw.WriteField("password", fuzzPassword)
	_ = mw.Close()
	const js = "application/json"
	for _, s := range []struct {
		route uint8
		ctype string
		body  string
	}{
		{0, form, "username=" + fuzzUser + "&password=" + fuzzPassword},
		{0, js, `{"username":"KESA","password":"123"}`},
		{0, js + "; charset=utf-8", `{"username":"kesa","password":"123"}`},
		{0, mw.FormDataContentType(), mp.String()},
		{0, form, "username=kesa&password=1234"},
		{0, form, "username=kesa&&password=123&password=x"},
		{0, form, "username=kesa;password=123"},
		{0, js, `{"username":"kesa","password":123}`},
		{0, js, `{"username":"kesa","password":"123"}{}`},
		{0, js, `{"username":"kesa","password":null}`},
		{0, js, `[{"username":"kesa","password":"123"}]`},
		{0, js, `{"username":`},
		{0, "multipart/form-data", mp.String()},
		{0, "application/xml", "<username>kesa</username>"},
		{0, "what;;=", "x"},
		{0, "", "username=kesa&password=123"},
		{0, "", ""},
		{0, form, "username=kesa&password=" + strings.Repeat("a", routers.BodyLimit)},
		{1, form, "username=fuzz.user_1&password=correct-horse"},
		{1, js, `{"username":"Fuzz-User-2","password":"battery-staple"}`},
		{1, form, "username=kesa&password=correct-horse"},
		{1, form, "username=ab&password=correct-horse"},
		{1, form, "username=a{b}c&password=correct-horse"},
		{1, form, "username=fuzzuser3&password=short"},
		{1, js, `{"username":"fuzzuser4","password":"` + strings.Repeat("é", 129) + `"}`},
		{2, js, `{"refreshToken":"` + respelled + `"}`}, // before the token itself rotates away
		{2, js, `{"refreshToken":"` + refresh + `"}`},
		{2, js, `{"refreshToken":"x.y.z"}`},
		{2, js, `{"refreshToken":42}`},
		{2, js, `{}`},
		{2, form, "refreshToken=a.b.c"},
		{2, "", ""},
		{3, js, `{"refreshToken":"x.y.z"}`},
		{3, "", ""},
	} {
		f.Add(s.route, s.ctype, []byte(s.body))
	}

	// registered maps the accounts of this process to their passwords.
	registered := map[string]string{fuzzUser: fuzzPassword}
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		th := *h // the harness on t: f's methods must not be called from here
		th.t = t
		th.log.Reset()
		w := th.do(req{method: rt.method, path: rt.path, body: string(body), ctype: contentType})
		in := func() string { return rt.method + " " + rt.path + " " + contentType + " " + string(body) }

		if w.Code >= 500 {
			t.Fatalf("%d for %q: %s", w.Code, in(), w.Body)
		}
		if w.Code >= 400 {
			var e struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("%d with body %q for %q: not a JSON error", w.Code, w.Body, in())
			}
		}
		// A success must be what the body says; and what the body says, if
		// within the body limit, must succeed.
		fits := len(body) <= routers.BodyLimit
		switch {
		case rt.path == "/public/login":
			sent, ok := sentFields(contentType, body, "username", "password")
			name, err := utils.CanonicalUsername(sent["username"])
			pw, known := registered[name]
			right := ok && err == nil && known && sent["password"] == pw
			if w.Code == http.StatusOK && !right || right && fits && w.Code != http.StatusOK {
				t.Fatalf("login answered %d to %q (fields %q, right credentials: %v)", w.Code, in(), sent, right)
			}
		case rt.path == "/public/register":
			sent, ok := sentFields(contentType, body, "username", "password")
			name, err := utils.CanonicalUsername(sent["username"])
			n := utf8.RuneCountInString(sent["password"])
			_, taken := registered[name]
			valid := ok && err == nil && n >= 8 && n <= 128 && !taken
			if w.Code == http.StatusCreated && !valid || valid && fits && w.Code != http.StatusCreated {
				t.Fatalf("register answered %d to %q (fields %q, valid and new: %v): %s", w.Code, in(), sent, valid, w.Body)
			}
			if w.Code == http.StatusCreated {
				if want, _ := json.Marshal(map[string]string{"username": name}); w.Body.String() != string(want) {
					t.Fatalf("register answered %s, want %s", w.Body, want)
				}
				registered[name] = sent["password"]
			}
		case rt.method == http.MethodGet: // refresh: no Authorization header; the body is not read
			if !fits && w.Code == http.StatusRequestEntityTooLarge {
				break // refused by its Content-Length before the handler
			}
			if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("GET refresh without a token answered %d (WWW-Authenticate %q)", w.Code, w.Header().Get("WWW-Authenticate"))
			}
		default:
			sent, ok := sentFields(contentType, body, "refreshToken")
			if w.Code == http.StatusOK && (!ok || sent["refreshToken"] != refresh) {
				t.Fatalf("refresh answered 200 to %q, which does not carry the issued refresh token", in())
			}
		}
		if w.Code == http.StatusOK {
			// Checked here, not added to the run's list (decodePair): a fuzz
			// run hands out far too many for TestMain's whole-log check.
			var p pair
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
				t.Fatalf("200 without a token pair: %q", w.Body)
			}
			for _, tok := range []string{p.AccessToken, p.RefreshToken} {
				if strings.Contains(th.log.String(), tok[strings.LastIndexByte(tok, '.')+1:]) {
					t.Fatalf("the log holds a token handed out: %q", th.log)
				}
			}
		}
	})
}

// sentFields reads the named string fields from a body the way the README
// documents it (a JSON object, an urlencoded or a multipart form, by
// Content-Type), independently of the handlers' code. ok is false for a body
// the route must refuse: then no field was sent.
func sentFields(ctype string, body []byte, names ...string) (fields map[string]string, ok bool) {
	fields = map[string]string{}
	if ctype == "" && len(body) == 0 {
		return fields, true
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, false
	}
	var values map[string][]string
	switch mt {
	case "application/json":
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		if dec.Decode(&obj) != nil {
			return nil, false
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, false
		}
		for _, n := range names {
			switch v := obj[n].(type) {
			case string:
				fields[n] = v
			case nil:
			default:
				return nil, false
			}
		}
		return fields, true
	case "application/x-www-form-urlencoded":
		if values, err = url.ParseQuery(string(body)); err != nil {
			return nil, false
		}
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, false
		}
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(64 << 10)
		if err != nil {
			return nil, false
		}
		defer func() { _ = form.RemoveAll() }()
		values = form.Value
	default:
		return nil, false
	}
	for _, n := range names {
		if v := values[n]; len(v) > 0 {
			fields[n] = v[0]
		}
	}
	return fields, true
}
