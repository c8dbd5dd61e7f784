package dpop

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Origin works out the URL a request was sent to as its client saw it,
// which is what a proof's htu names: PUBLIC_URL when the service is
// published under a fixed address, else the request's own scheme and Host,
// which X-Forwarded-Proto and X-Forwarded-Host replace only when the peer is
// one of the trusted proxies (a client could send them too).
type Origin struct {
	// public is PUBLIC_URL normalised, without a trailing slash; "" for none.
	public  string
	proxies []netip.Prefix
}

// NewOrigin returns the origin of PUBLIC_URL publicURL (empty: taken from
// each request) behind trustedProxies (TRUSTED_PROXIES: IPs or CIDRs).
func NewOrigin(publicURL string, trustedProxies []string) (*Origin, error) {
	o := &Origin{}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("want an http(s) URL like https://auth.example.com or https://example.com/auth, got %q", publicURL)
		}
		o.public = strings.TrimSuffix(normalize(u.Scheme, u.Host, u.Path), "/")
	}
	for _, p := range trustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q is neither an IP nor a CIDR", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		o.proxies = append(o.proxies, prefix.Masked())
	}
	return o, nil
}

// URL is the htu a proof for r must carry: scheme, host and path (query
// and fragment are no part of it), normalised as SameURL compares.
func (o *Origin) URL(r *http.Request) string {
	if o.public != "" {
		return o.public + r.URL.Path
	}
	scheme, host := o.schemeHost(r)
	return normalize(scheme, host, r.URL.Path)
}

func (o *Origin) schemeHost(r *http.Request) (scheme, host string) {
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if o.Trusted(r) {
		if p := strings.ToLower(first(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := first(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	return scheme, host
}

// Trusted reports whether r's peer is one of the trusted proxies.
func (o *Origin) Trusted(r *http.Request) bool {
	if len(o.proxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range o.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Forwarded is what a proof presented to a forward-auth endpoint
// (/auth/verify) must match: not that request, but the one the trusted
// proxy asks about, named by its X-Forwarded-Method and X-Forwarded-Uri
// (scheme and host as for URL, from X-Forwarded-Proto and -Host, else
// PUBLIC_URL's, else the request's). ok is false when r's peer is not a
// trusted proxy or either header is missing: a proof cannot then be
// checked, and the caller refuses it.
func (o *Origin) Forwarded(r *http.Request) (method, target string, ok bool) {
	method, uri := r.Header.Get("X-Forwarded-Method"), r.Header.Get("X-Forwarded-Uri")
	if !o.Trusted(r) || method == "" || uri == "" {
		return "", "", false
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return "", "", false
	}
	scheme, host := o.schemeHost(r)
	if o.public != "" && r.Header.Get("X-Forwarded-Host") == "" {
		pu, _ := url.Parse(o.public) // checked by NewOrigin
		scheme, host = pu.Scheme, pu.Host
	}
	return method, normalize(scheme, host, u.Path), true
}

// SameURL reports whether a proof's htu names the URL want (from Origin):
// the same scheme, host and path after RFC 3986 §6 normalisation of case
// and default ports; query and fragment ignored. Paths compare decoded, as
// gin routes them: two spellings that reach the same handler are one URL.
func SameURL(htu, want string) bool {
	u, err := url.Parse(htu)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return normalize(u.Scheme, u.Host, u.Path) == want
}

// normalize spells scheme://host/path the one way: lower-case scheme and
// host, no default or empty port, "/" for an empty path.
func normalize(scheme, host, path string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	switch scheme {
	case "http":
		host = strings.TrimSuffix(host, ":80")
	case "https":
		host = strings.TrimSuffix(host, ":443")
	}
	host = strings.TrimSuffix(host, ":")
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// first is the first entry of a comma list header (the proxy nearest the
// client writes it first).
func first(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}
