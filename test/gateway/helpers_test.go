// Package gateway tests gateway mode (docs/GATEWAY.md) behind real
// reverse proxies: redis-server, the built service, a small upstream that
// records what reached it, and Debian's nginx running
// examples/gateway/nginx.conf, or Caddy running examples/gateway/Caddyfile
// (the very files, their addresses filled in), all on loopback in the
// test's own folders. Without nginx, caddy or redis-server the tests skip;
// in CI (CI=true) they fail instead (.ci/run installs all three).
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go-jwt/examples/gateway"
	"go-jwt/test/proc"
)

// build is the binary under test, built once per test run.
var build = &proc.Build{Prefix: "go-jwt-gateway-"}

func TestMain(m *testing.M) { proc.Main(m, build) }

// seen is one request as a server behind the proxy got it.
type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// recorder keeps every request a test server got.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

// record keeps req, whose body it reads and puts back for whoever serves
// it next.
func (r *recorder) record(req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), string(body)})
}

// count is how many requests arrived so far.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// last is the latest request; the test fails if none arrived.
func (r *recorder) last(t *testing.T) seen {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request arrived")
	}
	return r.reqs[len(r.reqs)-1]
}

// rig is one gateway: Redis, the service, the app and a proxy in front.
type rig struct {
	t       *testing.T
	redis   *proc.Redis
	service *proc.Child
	// svc is the service's own address (logins, logout); gw is the proxy's.
	svc, gw string
	secret  []byte
	user    string
	pass    string
	// app got what the proxy passed on; auth got the proxy's subrequests on
	// their way to the service (a transparent proxy in between).
	app, auth *recorder
	client    *http.Client
}

// startProxy starts the proxy under test on a.Gateway, asking a.GoJWT and
// passing on to a.App, and returns once it answers.
type startProxy func(t *testing.T, a gateway.Addrs)

func newRig(t *testing.T, start startProxy) *rig {
	t.Helper()
	r := &rig{t: t, secret: []byte(proc.RandomHex(t, 32)), user: "gw" + proc.RandomHex(t, 4), pass: "pw-" + proc.RandomHex(t, 6),
		app: &recorder{}, auth: &recorder{}, client: &http.Client{Timeout: 5 * time.Second}}
	t.Cleanup(r.client.CloseIdleConnections)

	r.redis = &proc.Redis{Name: "redis-server", Exe: proc.NeedExe(t, "redis-server"), Addr: proc.FreeAddr(t), Dir: t.TempDir(),
		Args: []string{"--save", "", "--appendonly", "no"}}
	r.redis.Start(t)

	svcAddr := proc.FreeAddr(t)
	r.svc = "http://" + svcAddr
	cmd := exec.Command(build.Binary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "APP_ADDR=" + svcAddr, "REDIS_ADDR=" + r.redis.Addr,
		"JWT_SECRET=" + string(r.secret), "DEMO_USER=" + r.user + ":" + r.pass, "DEMO_PAGE=off",
		"ARGON2_TIME=1", "ARGON2_MEMORY_KIB=1024", "TRUSTED_PROXIES=127.0.0.1"}
	r.service = proc.StartChild(t, "go-jwt", cmd, filepath.Join(t.TempDir(), "service.log"))
	r.service.WaitHTTP(r.svc + "/healthz")

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.app.record(req)
		_, _ = io.WriteString(w, "app: "+req.Header.Get("X-Auth-User"))
	}))
	t.Cleanup(app.Close)
	target, _ := url.Parse(r.svc)
	toService := httputil.NewSingleHostReverseProxy(target)
	// With the service gone, the proxy must find the service unreachable,
	// as it would without this one in between: the connection is dropped,
	// not answered 502.
	toService.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	}
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.auth.record(req)
		toService.ServeHTTP(w, req)
	}))
	t.Cleanup(auth.Close)

	gwAddr := proc.FreeAddr(t)
	r.gw = "http://" + gwAddr
	start(t, gateway.Addrs{Gateway: gwAddr, GoJWT: strings.TrimPrefix(auth.URL, "http://"), App: strings.TrimPrefix(app.URL, "http://")})
	return r
}

// do sends one request to base+path with the token (when not empty) and
// the headers, which are sent as written (not canonicalized), each value
// on a line of its own.
func (r *rig) do(method, u, token string, header map[string][]string, body string) proc.Answer {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		r.t.Fatal(err)
	}
	return proc.Answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// login logs the rig's user in at the service itself.
func (r *rig) login() proc.Pair {
	r.t.Helper()
	return r.loginAs(r.user, r.pass)
}

// loginAs logs user in at the service itself.
func (r *rig) loginAs(user, pass string) proc.Pair {
	r.t.Helper()
	a := r.do(http.MethodPost, r.svc+"/public/login", "", map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
		url.Values{"username": {user}, "password": {pass}}.Encode())
	var p proc.Pair
	if err := json.Unmarshal([]byte(a.Body), &p); a.Status != http.StatusOK || err != nil || p.Access == "" {
		r.t.Fatalf("login: %v %v", a, err)
	}
	return p
}

// addAdmin creates an admin the way an operator does, with the built
// binary's `user add --role admin --password-stdin` on the service's Redis,
// and returns its name and password.
func (r *rig) addAdmin() (string, string) {
	r.t.Helper()
	name, pass := "adm"+proc.RandomHex(r.t, 4), "pw-"+proc.RandomHex(r.t, 8)
	cmd := exec.Command(build.Binary(r.t), "user", "add", name, "--role", "admin", "--role", "user", "--password-stdin")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "REDIS_ADDR=" + r.redis.Addr, "JWT_SECRET=" + string(r.secret),
		"DEMO_USER=off", "ARGON2_TIME=1", "ARGON2_MEMORY_KIB=1024"}
	cmd.Stdin = strings.NewReader(pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("go-jwt user add: %v: %s", err, out)
	}
	return name, pass
}

// session is the id of the session that token belongs to, as the service
// lists it.
func (r *rig) session(token string) string {
	r.t.Helper()
	a := r.do(http.MethodGet, r.svc+"/user/sessions", token, nil, "")
	var body struct {
		Sessions []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
		r.t.Fatalf("sessions %v: %v", a, err)
	}
	for _, s := range body.Sessions {
		if s.Current {
			return s.ID
		}
	}
	r.t.Fatalf("no current session: %v", a)
	return ""
}

// refused checks an error answer of the gateway: status, the JSON code, and that
// the app saw nothing of it (its request count is still before).
func (r *rig) refused(a proc.Answer, status int, code string, before int) {
	r.t.Helper()
	var e struct{ Error, Message string }
	if a.Status != status || json.Unmarshal([]byte(a.Body), &e) != nil || e.Error != code || e.Message == "" {
		r.t.Fatalf("got %v, want %d %s", a, status, code)
	}
	if got := a.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		r.t.Fatalf("Content-Type %q", got)
	}
	if n := r.app.count(); n != before {
		r.t.Fatalf("the app got %d request(s) that the gateway should have refused", n-before)
	}
}
