package initialize

import (
	"net"
	"net/url"
	"regexp"
	"strings"

	"go-jwt/global"
)

// rpIDPattern is a domain name: dot-separated labels of letters, digits and
// inner hyphens (WebAuthn's RP ID is a registrable domain or a subdomain; an
// IP address or a host with a port is never one).
var rpIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// loadWebAuthnConfig reads WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME and
// WEBAUTHN_ORIGINS (SPEC §12). A browser refuses a ceremony whose page is not
// on the RP ID's domain, so an origin off that domain could never work: it
// stops start-up here, naming the variable, instead of failing every
// passkey ceremony later.
func loadWebAuthnConfig(r *envReader, c *global.Config) {
	c.WebAuthnRPID = strings.ToLower(r.str("WEBAUTHN_RP_ID", "localhost"))
	c.WebAuthnRPName = r.str("WEBAUTHN_RP_NAME", "go-jwt")
	c.WebAuthnOrigins = r.list("WEBAUTHN_ORIGINS")
	if len(c.WebAuthnOrigins) == 0 {
		c.WebAuthnOrigins = []string{"http://localhost:9090"}
	}
	if !rpIDPattern.MatchString(c.WebAuthnRPID) || net.ParseIP(c.WebAuthnRPID) != nil || len(c.WebAuthnRPID) > 253 {
		r.fail("WEBAUTHN_RP_ID", "want a domain name like example.com (no scheme, port, path or IP address), got %q", c.WebAuthnRPID)
		return
	}
	for _, o := range c.WebAuthnOrigins {
		if !validOrigin(o) {
			r.fail("WEBAUTHN_ORIGINS", "want origins like https://app.example.com (scheme, host, optional port, no path), got %q", o)
			return
		}
		u, _ := url.Parse(o)
		host := strings.ToLower(u.Hostname())
		switch {
		case host != c.WebAuthnRPID && !strings.HasSuffix(host, "."+c.WebAuthnRPID):
			r.fail("WEBAUTHN_ORIGINS", "%q is not on WEBAUTHN_RP_ID %q or a subdomain of it: browsers refuse passkeys there", o, c.WebAuthnRPID)
			return
		case u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost"):
			r.fail("WEBAUTHN_ORIGINS", "%q: passkeys need a secure context, so https (plain http only for localhost)", o)
			return
		}
	}
}
