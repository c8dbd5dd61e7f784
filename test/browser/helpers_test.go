package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// hitLog records every answer of the API: method, path and status.
type hitLog struct {
	mu   sync.Mutex
	hits []string
}

func (h *hitLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.hits = append(h.hits, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, sw.status))
	})
}

func (h *hitLog) count(method, path string, status int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	want, n := fmt.Sprintf("%s %s %d", method, path, status), 0
	for _, s := range h.hits {
		if s == want {
			n++
		}
	}
	return n
}

func (h *hitLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hits...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// phoneUA is what the second device calls itself.
const phoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

// login signs user in from Go's client, as a second device: its access token.
func login(ctx context.Context, t *testing.T, api, user, password string) string {
	t.Helper()
	res := postCredentials(ctx, t, api+"/public/login", user, password)
	defer func() { _ = res.Body.Close() }()
	var pair struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(res.Body).Decode(&pair); err != nil || res.StatusCode != http.StatusOK || pair.AccessToken == "" {
		t.Fatalf("second device login: %d %v", res.StatusCode, err)
	}
	return pair.AccessToken
}

// postCredentials posts {"username","password"} to url from Go's client,
// with a phone's User-Agent.
func postCredentials(ctx context.Context, t *testing.T, url, user, password string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", phoneUA)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// welcome calls GET /user/welcome with token and returns the status.
func welcome(ctx context.Context, t *testing.T, api, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/user/welcome", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// chromium finds Debian's chromium. Missing, the test is skipped on a
// developer's machine but fails in CI, which must install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); CI must run the browser test")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve serves h on ln until the test ends.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}
