package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"go-jwt/examples/gateway"
)

// gatewayBench loads a welcome page through Debian's nginx running
// examples/gateway/nginx.conf, twice over the same nginx and the same
// upstream (a small app in this process that greets X-Auth-User): at
// /welcome behind auth_request (each request verified by the service at
// serviceAddr, revocation checked in Redis), and at /public/welcome, which
// the same file proxies without auth. It prints both rows and their ratio.
// Without nginx it prints why and measures nothing.
func gatewayBench(serviceAddr string, users []string, conns int, d time.Duration) error {
	exe, err := exec.LookPath("nginx")
	if err != nil {
		if exe, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			fmt.Printf("\ngateway: skipped, nginx is not installed (apt-get install nginx)\n")
			return nil
		}
	}
	dir, err := os.MkdirTemp("", "go-jwt-bench-gateway-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	app, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Welcome ! "+r.Header.Get("X-Auth-User"))
	})}
	go func() { _ = srv.Serve(app) }()
	defer func() { _ = srv.Close() }()

	gw := freeAddr()
	n := gateway.Nginx{Exe: exe, Dir: dir}
	if err := n.Setup(gateway.Addrs{Gateway: gw, GoJWT: serviceAddr, App: app.Addr().String()}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := n.Command(ctx)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer stop(cmd)
	if err := waitFor(func() error {
		c, err := dial(gw)
		if err == nil {
			c.close()
		}
		return err
	}); err != nil {
		return fmt.Errorf("nginx did not start (log: %s): %w", n.ErrorLog(), err)
	}

	// Each connection's user (one user each, so none passes MAX_SESSIONS)
	// logs in at the service itself, then talks to nginx only.
	next := loginSetup(users)
	login := func(w *worker) error {
		c := w.c
		defer func() { w.c = c }()
		var err error
		if w.c, err = dial(serviceAddr); err != nil {
			return err
		}
		defer w.c.close()
		return next(w)
	}
	open := load(target{short: "gw-open", addr: gw, do: redialing(gw, func(w *worker) error { return expect(w.c.do("GET", "/public/welcome", nil, nil)) })}, conns, d, "", "")
	auth := load(target{short: "gw-auth", addr: gw, setup: login, do: redialing(gw, func(w *worker) error { return expect(w.c.do("GET", "/welcome", w.accessH, nil)) })}, conns, d, "", "")

	fmt.Printf("\n### Through nginx (examples/gateway/nginx.conf), the same upstream, %d connections\n\n", conns)
	fmt.Printf("| route | req/s | p50 | p99 | × nginx without auth |\n|---|--:|--:|--:|--:|\n")
	for _, r := range []struct {
		name string
		res  result
	}{{"nginx proxying without auth (`/public/welcome`)", open}, {"nginx with `auth_request` to `/auth/verify` (`/welcome`)", auth}} {
		fmt.Printf("| %s | %.0f | %v | %v | %.2f |\n", r.name, r.res.rps, r.res.p50, r.res.p99, r.res.rps/open.rps)
	}
	for name, r := range map[string]result{"gw-open": open, "gw-auth": auth} {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d failed requests (first: %v)", name, r.errors, r.firstErr)
		}
	}
	return nil
}

// redialing is do on a connection to addr that nginx may close between two
// requests (after keepalive_requests, 1000 by default), as any client
// would see it: a failed request is tried once more on a new connection,
// and the reconnection counts in that request's time. A real failure
// fails twice and is counted.
func redialing(addr string, do op) op {
	return func(w *worker) error {
		err := do(w)
		if err == nil {
			return nil
		}
		w.c.close()
		if w.c, err = dial(addr); err != nil {
			return err
		}
		return do(w)
	}
}
