// Command go-jwt is a JWT authentication service: see README.md.
//
//	go-jwt              serve (configured by environment variables)
//	go-jwt healthcheck  exit 0 if the local service answers /healthz
//	go-jwt user ...     the operator command line: add, roles, passwd,
//	                    lock, unlock, delete, list (package cli)
//
// As PID 1 (a container's entrypoint) it serves through a child and acts as
// that child's init, so that a SIGHUP restart does not end the container
// (SPEC §7, initialize/pid1.go). GO_JWT_INIT=off turns that off.
package main

import (
	"fmt"
	"os"

	"go-jwt/cli"
	"go-jwt/initialize"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	run := func() error { return initialize.Run(os.Getenv, os.Stderr) }
	switch {
	case len(os.Args) == 1 && initialize.ActAsInit(os.Getenv):
		status, err := initialize.Init(os.Getenv, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-jwt:", err)
		}
		os.Exit(status)
	case len(os.Args) > 1:
		switch os.Args[1] {
		case "healthcheck":
			run = func() error { return initialize.Healthcheck(os.Getenv) }
		case "version", "--version":
			fmt.Println(version)
			return
		case "user":
			os.Exit(cli.User(os.Args[2:], cli.Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
		default:
			fmt.Fprintf(os.Stderr, "go-jwt: unknown command %q (want none, healthcheck, user or version)\n", os.Args[1])
			os.Exit(2)
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-jwt:", err)
		os.Exit(1)
	}
}
