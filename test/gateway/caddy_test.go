package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go-jwt/examples/gateway"
	"go-jwt/test/proc"
)

// startCaddy runs examples/gateway/Caddyfile as it is, its addresses from
// the environment, with its state in a folder of the test's.
func startCaddy(t *testing.T, a gateway.Addrs) {
	t.Helper()
	exe := proc.NeedExe(t, "caddy")
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "run", "--adapter", "caddyfile", "--config", filepath.Join(root, "examples", "gateway", "Caddyfile"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir,
		"CADDY_ADMIN=off", "GATEWAY_ADDR=http://" + a.Gateway, "GATEWAY_BIND=127.0.0.1",
		"GO_JWT_ADDR=" + a.GoJWT, "APP_ADDR=" + a.App}
	proc.StartChild(t, "caddy", cmd, filepath.Join(dir, "caddy.log")).WaitHTTP("http://" + a.Gateway + "/public/")
}

func TestCaddyGateway(t *testing.T) {
	r := newRig(t, startCaddy)
	dpopScenario(t, r)
	gatewayScenarios(t, r, r.login())
}
