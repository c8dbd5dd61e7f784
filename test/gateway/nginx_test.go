package gateway

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"go-jwt/examples/gateway"
	"go-jwt/test/proc"
)

// TestNginxConfigIsValid is nginx -t on examples/gateway/nginx.conf with its
// addresses filled in: the file an operator copies parses.
func TestNginxConfigIsValid(t *testing.T) {
	n := gateway.Nginx{Exe: proc.NeedExe(t, "nginx"), Dir: t.TempDir()}
	if err := n.Setup(gateway.Addrs{Gateway: "127.0.0.1:18080", GoJWT: "127.0.0.1:19090", App: "127.0.0.1:13000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.Render(gateway.Addrs{Gateway: "127.0.0.1:1", GoJWT: "127.0.0.1:2"}, t.TempDir()); err == nil {
		t.Fatal("Render filled in a configuration with an address missing")
	}
}

// startNginx runs examples/gateway/nginx.conf in a folder of the test's.
func startNginx(t *testing.T, a gateway.Addrs) {
	t.Helper()
	n := gateway.Nginx{Exe: proc.NeedExe(t, "nginx"), Dir: t.TempDir()}
	if err := n.Setup(a); err != nil {
		t.Fatal(err)
	}
	ng := proc.StartChild(t, "nginx", n.Command(context.Background()), filepath.Join(n.Dir, "nginx.out"))
	ng.WaitHTTP("http://" + a.Gateway + "/public/")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error log (tail):\n%s", proc.TailFile(n.ErrorLog(), 3000))
		}
	})
}

func TestNginxGateway(t *testing.T) {
	r := newRig(t, startNginx)
	p := r.login()
	t.Run("the auth location is not reachable from outside", func(t *testing.T) {
		before := r.app.count()
		if a := r.do(http.MethodGet, r.gw+"/_auth", p.Access, nil, ""); a.Status != http.StatusNotFound {
			t.Fatalf("GET /_auth: %v", a)
		}
		if r.app.count() != before {
			t.Fatal("GET /_auth reached the app")
		}
	})
	dpopScenario(t, r)
	gatewayScenarios(t, r, p)
}
