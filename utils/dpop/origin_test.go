package dpop_test

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"go-jwt/utils/dpop"
)

// TestOrigin: the URL a proof must name is PUBLIC_URL's, or the request's,
// with X-Forwarded-Proto and -Host believed from trusted proxies only.
func TestOrigin(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.0.2.7"}
	tests := []struct {
		name, public, peer, host string
		tls                      bool
		header                   map[string]string
		want                     string
	}{
		{"plain request", "", "198.51.100.1:1", "api.example.com:9090", false, nil, "http://api.example.com:9090/user/welcome"},
		{"TLS, default port and host case", "", "198.51.100.1:1", "API.example.com:443", true, nil, "https://api.example.com/user/welcome"},
		{"forwarded by a trusted proxy (CIDR)", "", "10.1.2.3:1", "backend:9090", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}, "https://api.example.com/user/welcome"},
		{"forwarded by a trusted proxy (IP), first of a list", "", "192.0.2.7:1", "backend:9090", false,
			map[string]string{"X-Forwarded-Proto": "HTTPS, http", "X-Forwarded-Host": "api.example.com, backend"}, "https://api.example.com/user/welcome"},
		{"forged by a client", "", "198.51.100.1:1", "api.example.com:9090", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"}, "http://api.example.com:9090/user/welcome"},
		{"a junk X-Forwarded-Proto", "", "10.1.2.3:1", "api.example.com", false,
			map[string]string{"X-Forwarded-Proto": "gopher"}, "http://api.example.com/user/welcome"},
		{"PUBLIC_URL wins", "https://Auth.Example.com/", "10.1.2.3:1", "backend:9090", false,
			map[string]string{"X-Forwarded-Host": "evil.example.com"}, "https://auth.example.com/user/welcome"},
		{"PUBLIC_URL with a path prefix", "https://example.com/auth/", "198.51.100.1:1", "backend:9090", false, nil, "https://example.com/auth/user/welcome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := dpop.NewOrigin(tt.public, proxies)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/user/welcome?x=1", nil)
			r.RemoteAddr, r.Host = tt.peer, tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := o.URL(r); got != tt.want {
				t.Fatalf("URL %q, want %q", got, tt.want)
			}
			if !dpop.SameURL(tt.want+"?q#f", o.URL(r)) {
				t.Fatal("a proof naming the URL would not match")
			}
		})
	}
}

func TestNewOriginRefuses(t *testing.T) {
	for _, bad := range []string{"ftp://example.com", "example.com", "https://", "https://u:p@example.com", "https://example.com/?q=1"} {
		if _, err := dpop.NewOrigin(bad, nil); err == nil {
			t.Errorf("PUBLIC_URL %q accepted", bad)
		}
	}
	if _, err := dpop.NewOrigin("", []string{"not-an-ip"}); err == nil {
		t.Error("a junk trusted proxy accepted")
	}
}

// TestForwarded: a forward-auth request checks the proof against the
// request the trusted proxy asks about (X-Forwarded-Method, -Uri), never
// against headers a client sent itself.
func TestForwarded(t *testing.T) {
	o, err := dpop.NewOrigin("", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(peer string, h map[string]string) (string, string, bool) {
		r := httptest.NewRequest("GET", "/auth/verify", nil)
		r.RemoteAddr, r.Host = peer, "auth:9090"
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return o.Forwarded(r)
	}
	h := map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/app/orders?id=7",
		"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com"}
	if m, u, ok := ask("127.0.0.1:5000", h); !ok || m != "POST" || u != "https://shop.example.com/app/orders" {
		t.Fatalf("trusted proxy: %q %q %v", m, u, ok)
	}
	if _, _, ok := ask("198.51.100.1:5000", h); ok {
		t.Fatal("X-Forwarded-Method/-Uri believed from a client")
	}
	if _, _, ok := ask("127.0.0.1:5000", map[string]string{"X-Forwarded-Method": "GET"}); ok {
		t.Fatal("no X-Forwarded-Uri, yet a URL")
	}
	pub, err := dpop.NewOrigin("https://shop.example.com", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/auth/verify", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Uri", "/app/")
	if _, u, ok := pub.Forwarded(r); !ok || u != "https://shop.example.com/app/" {
		t.Fatalf("PUBLIC_URL's host for a forwarded request: %q %v", u, ok)
	}
}
