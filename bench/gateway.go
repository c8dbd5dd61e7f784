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
func gatewayBench(serviceAddr string, conns int, d time.Duration) error {
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

	// Each connection's user logs in at the service itself, then talks to
	// nginx only.
	login := func(w *worker) error {
		c, err := dial(serviceAddr)
		if err != nil {
			return err
		}
		defer c.close()
		status, body, err := c.do("POST", "/public/login", formHeader, loginBody)
		if err := expect(status, body, err); err != nil {
			return err
		}
		return w.take(body)
	}
	open := load("gw-open", gw, conns, d, nil, redialing(gw, func(w *worker) error { return expect(w.c.do("GET", "/public/welcome", nil, nil)) }))
	auth := load("gw-auth", gw, conns, d, login, redialing(gw, func(w *worker) error { return expect(w.c.do("GET", "/welcome", w.accessH, nil)) }))

	fmt.Printf("\nthrough nginx (examples/gateway/nginx.conf), the same upstream, %d connections:\n", conns)
	fmt.Printf("%-8s %10s %10s %10s %10s %8s\n", "route", "req/s", "p50", "p99", "×open", "errors")
	for _, r := range []result{open, auth} {
		fmt.Printf("%-8s %10.0f %10v %10v %10.2f %8d\n", r.name, r.rps, r.p50, r.p99, r.rps/open.rps, r.errors)
	}
	fmt.Printf("gw-open: nginx proxying without auth; gw-auth: the same with auth_request to /auth/verify (ratio %.2f)\n", auth.rps/open.rps)
	for _, r := range []result{open, auth} {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d failed requests (first: %v)", r.name, r.errors, r.firstErr)
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
