// Package gateway holds the reverse-proxy configurations of gateway mode
// (docs/GATEWAY.md): nginx.conf, traefik.yml with its docker-compose.yml,
// and the Caddyfile. Its Go code renders nginx.conf for a run in a folder
// of its own, so that the gateway test and the benchmark run the very file
// an operator copies, with nothing but its addresses filled in.
package gateway

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// NginxConf is examples/gateway/nginx.conf as shipped, placeholders and all.
//
//go:embed nginx.conf
var NginxConf string

// Addrs fills in the placeholders of nginx.conf: host:port each.
type Addrs struct {
	// Gateway is where nginx listens (${GATEWAY_ADDR}).
	Gateway string
	// GoJWT is the go-jwt service (${GO_JWT_ADDR}).
	GoJWT string
	// App is the upstream behind the gateway (${APP_ADDR}).
	App string
}

// Render returns nginx.conf with a's addresses, set up to run from dir by
// a user who owns nothing else: its temporary files and its access log go
// into dir rather than the paths Debian's nginx was built with. Nothing
// else of the file changes.
func Render(a Addrs, dir string) (string, error) {
	if a.Gateway == "" || a.GoJWT == "" || a.App == "" {
		return "", fmt.Errorf("nginx.conf: every address is needed: %+v", a)
	}
	conf := strings.NewReplacer("${GATEWAY_ADDR}", a.Gateway, "${GO_JWT_ADDR}", a.GoJWT, "${APP_ADDR}", a.App).Replace(NginxConf)
	if i := strings.Index(conf, "${"); i >= 0 {
		return "", fmt.Errorf("nginx.conf: a placeholder is left: %.40q", conf[i:])
	}
	var local strings.Builder
	local.WriteString("http {\n    # Render: paths inside the run's own folder.\n")
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&local, "    %s_temp_path %s;\n", d, filepath.Join(dir, "tmp", d))
	}
	fmt.Fprintf(&local, "    access_log %s;\n", filepath.Join(dir, "access.log"))
	if strings.Count(conf, "\nhttp {\n") != 1 {
		return "", fmt.Errorf("nginx.conf: no single http block")
	}
	return strings.Replace(conf, "\nhttp {\n", "\n"+local.String(), 1), nil
}

// Nginx is nginx running a rendered nginx.conf in a folder of its own.
type Nginx struct {
	// Exe is the nginx executable.
	Exe string
	// Dir is its prefix: the configuration, logs, pid and temporary files.
	Dir string
}

// Setup renders nginx.conf with a into n.Dir and checks it with nginx -t.
func (n Nginx) Setup(a Addrs) error {
	conf, err := Render(a, n.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(n.Dir, "tmp"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(n.ConfPath(), []byte(conf), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := n.command(ctx, "-t").CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %v\n%s", err, out)
	}
	return nil
}

// ConfPath is the rendered configuration.
func (n Nginx) ConfPath() string { return filepath.Join(n.Dir, "nginx.conf") }

// ErrorLog is nginx's error log.
func (n Nginx) ErrorLog() string { return filepath.Join(n.Dir, "error.log") }

// Command is nginx in the foreground on the rendered configuration (Setup
// first), killed when ctx is done; the caller starts and stops it.
func (n Nginx) Command(ctx context.Context) *exec.Cmd { return n.command(ctx) }

// command is nginx with the prefix, configuration, pid file and error log
// of n.Dir: -g adds the pid and foreground directives, which nginx.conf
// leaves to its installation.
func (n Nginx) command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{"-p", n.Dir, "-c", n.ConfPath(), "-e", n.ErrorLog(),
		"-g", fmt.Sprintf("daemon off; pid %s; error_log %s info;", filepath.Join(n.Dir, "nginx.pid"), n.ErrorLog())}, args...)
	return exec.CommandContext(ctx, n.Exe, argv...) //nolint:gosec // the caller's nginx, on the configuration rendered here
}
