package gateway

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	v1 "go-jwt/api/v1"
	"go-jwt/test/proc"
)

// Traefik cannot be built from the Go module proxy, so its two
// configurations are read here, strictly, and checked for what gateway mode
// needs: every route but the public one behind a ForwardAuth to
// /auth/verify, the role-guarded one asking ?role=admin, the identity
// headers copied and every client-sent look-alike stripped.

// forwardAuth is Traefik's ForwardAuth middleware, as far as go-jwt uses it.
type forwardAuth struct {
	Address                  string   `yaml:"address"`
	TrustForwardHeader       bool     `yaml:"trustForwardHeader"`
	AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
	AuthResponseHeadersRegex string   `yaml:"authResponseHeadersRegex"`
}

// traefikRouter is one router: its rule and middlewares (names without a
// provider suffix).
type traefikRouter struct {
	Rule        string   `yaml:"rule"`
	EntryPoints []string `yaml:"entryPoints"`
	Middlewares []string `yaml:"middlewares"`
	Service     string   `yaml:"service"`
}

// traefikDynamic is the file provider's dynamic configuration; decoding
// rejects any key it does not name (a typo is a failure, not a no-op).
type traefikDynamic struct {
	HTTP struct {
		Routers     map[string]traefikRouter `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *forwardAuth `yaml:"forwardAuth"`
			Headers     *struct {
				CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
			} `yaml:"headers"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "gateway", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var identityHeaders = []string{v1.HeaderAuthUser, v1.HeaderAuthSession, v1.HeaderAuthRoles, v1.HeaderAuthAmr}

// checkForwardAuth fails t unless fa asks /auth/verify (with ?role=admin
// exactly when role is set), believes no client X-Forwarded-*, copies the
// four identity headers and strips every client header that looks like one.
func checkForwardAuth(t *testing.T, name string, fa forwardAuth, role bool) {
	t.Helper()
	u, err := url.Parse(fa.Address)
	if err != nil || u.Path != "/auth/verify" {
		t.Errorf("%s: address %q does not ask /auth/verify", name, fa.Address)
	}
	if want := map[bool]string{true: "role=admin", false: ""}[role]; u != nil && u.RawQuery != want {
		t.Errorf("%s: address %q asks ?%s, want ?%s", name, fa.Address, u.RawQuery, want)
	}
	if fa.TrustForwardHeader {
		t.Errorf("%s: trustForwardHeader is on: a client's X-Forwarded-* would be believed", name)
	}
	if got := slices.Sorted(slices.Values(fa.AuthResponseHeaders)); !slices.Equal(got, slices.Sorted(slices.Values(identityHeaders))) {
		t.Errorf("%s: authResponseHeaders %v, want %v", name, fa.AuthResponseHeaders, identityHeaders)
	}
	re, err := regexp.Compile(fa.AuthResponseHeadersRegex) // Traefik's regexp is Go's
	if err != nil {
		t.Errorf("%s: authResponseHeadersRegex: %v", name, err)
		return
	}
	for _, h := range append([]string{"X-Auth-User", "x-auth-roles", "X_Auth_User", "X-AUTH-AMR", "X-Auth-Admin", "X_auth-session"}, identityHeaders...) {
		if !re.MatchString(h) {
			t.Errorf("%s: a client-sent %s is not stripped (authResponseHeadersRegex %q)", name, h, fa.AuthResponseHeadersRegex)
		}
	}
	for _, h := range []string{"Authorization", "X-Request-ID", "Cookie", "X-Authorization", "My-X-Auth-User"} {
		if re.MatchString(h) {
			t.Errorf("%s: authResponseHeadersRegex %q strips %s", name, fa.AuthResponseHeadersRegex, h)
		}
	}
}

// checkRouters fails t unless every router but the public one goes through
// a ForwardAuth of auths, the admin one through one asking ?role=admin.
func checkRouters(t *testing.T, routers map[string]traefikRouter, auths map[string]forwardAuth) {
	t.Helper()
	var admin, user bool
	for name, r := range routers {
		public := strings.Contains(r.Rule, "/public/")
		guarded := false
		for _, m := range r.Middlewares {
			fa, ok := auths[strings.TrimSuffix(m, "@docker")]
			if !ok {
				continue
			}
			guarded = true
			isAdmin := strings.Contains(r.Rule, "/admin")
			checkForwardAuth(t, name+" → "+m, fa, isAdmin)
			admin, user = admin || isAdmin, user || !isAdmin
		}
		if !guarded && !public {
			t.Errorf("router %s (%s) passes requests on without asking go-jwt", name, r.Rule)
		}
	}
	if !admin || !user {
		t.Errorf("want a router for users and one for admins, got admin %v, user %v", admin, user)
	}
}

func TestTraefikFileConfiguration(t *testing.T) {
	var c traefikDynamic
	if err := yaml.Load(readExample(t, "traefik.yml"), &c, yaml.WithKnownFields()); err != nil {
		t.Fatalf("traefik.yml: %v", err)
	}
	auths := map[string]forwardAuth{}
	for name, m := range c.HTTP.Middlewares {
		if m.ForwardAuth != nil {
			auths[name] = *m.ForwardAuth
		}
	}
	checkRouters(t, c.HTTP.Routers, auths)
	for name, r := range c.HTTP.Routers {
		if _, ok := c.HTTP.Services[r.Service]; !ok {
			t.Errorf("router %s: no service %q", name, r.Service)
		}
		for _, m := range r.Middlewares {
			if _, ok := c.HTTP.Middlewares[m]; !ok {
				t.Errorf("router %s: no middleware %q", name, m)
			}
		}
		if !strings.Contains(r.Rule, "/public/") {
			continue
		}
		// The public router strips what it can without a regex.
		stripped := map[string]bool{}
		for _, m := range r.Middlewares {
			if h := c.HTTP.Middlewares[m].Headers; h != nil {
				for k, v := range h.CustomRequestHeaders {
					stripped[k] = v == ""
				}
			}
		}
		for _, h := range identityHeaders {
			if !stripped[h] || !stripped[strings.ReplaceAll(h, "-", "_")] {
				t.Errorf("public router %s lets a client-sent %s (or its underscore spelling) through", name, h)
			}
		}
	}
}

// composeFile is the part of docker-compose.yml read here.
type composeFile struct {
	Services map[string]struct {
		Labels []string `yaml:"labels"`
	} `yaml:"services"`
}

func TestTraefikDockerLabels(t *testing.T) {
	raw := readExample(t, "docker-compose.yml")
	var c composeFile
	if err := yaml.Load(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	// Labels are key=value; Traefik reads their keys in any case.
	auths := map[string]forwardAuth{}
	routers := map[string]traefikRouter{}
	for _, svc := range c.Services {
		for _, label := range svc.Labels {
			k, v, _ := strings.Cut(label, "=")
			parts := strings.Split(strings.ToLower(k), ".")
			switch {
			case len(parts) == 6 && parts[1] == "http" && parts[2] == "middlewares" && parts[4] == "forwardauth":
				fa := auths[parts[3]]
				switch parts[5] {
				case "address":
					fa.Address = v
				case "trustforwardheader":
					fa.TrustForwardHeader = v == "true"
				case "authresponseheaders":
					fa.AuthResponseHeaders = strings.Split(v, ",")
				case "authresponseheadersregex":
					fa.AuthResponseHeadersRegex = v
				default:
					t.Errorf("unknown forwardauth label %s", k)
				}
				auths[parts[3]] = fa
			case len(parts) == 5 && parts[1] == "http" && parts[2] == "routers":
				r := routers[parts[3]]
				switch parts[4] {
				case "rule":
					r.Rule = v
				case "middlewares":
					r.Middlewares = strings.Split(v, ",")
				}
				routers[parts[3]] = r
			}
		}
	}
	checkRouters(t, routers, auths)

	// And Compose itself reads the file.
	exe := proc.NeedExe(t, "docker-compose")
	cmd := exec.Command(exe, "-f", filepath.Join("..", "..", "examples", "gateway", "docker-compose.yml"), "config", "-q")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "REDIS_PASSWORD=pw", "JWT_SECRET=" + strings.Repeat("s", 32)}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, out)
	}
}
