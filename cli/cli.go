// Package cli is the operator command line (SPEC §10):
//
//	go-jwt user add NAME [--role R]... [--password-stdin]
//	go-jwt user roles NAME R...
//	go-jwt user passwd NAME [--password-stdin]
//	go-jwt user lock NAME | unlock NAME | delete NAME
//	go-jwt user list                 (name, roles, locked, totp or -)
//
// It reads the same environment as the server (REDIS_ADDR ..., DEFAULT_ROLES,
// ARGON2_*) and changes accounts through the same store as the admin API
// (utils/accounts), so each change has the same effects at the user's next
// request. A password comes from standard input (--password-stdin) or a
// prompt without echo on a terminal, never from the command line, where
// other users see it in ps and it stays in the shell's history. Success
// exits 0; an error prints one line and exits 1.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go-jwt/global"
	"go-jwt/initialize"
	"go-jwt/utils"
	"go-jwt/utils/accounts"
	"go-jwt/utils/mfa"
)

// Env is what a command runs with: the environment and the standard files.
type Env struct {
	Getenv         func(string) string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// actor names the command line in the security events of its changes.
const actor = "cli"

// timeout bounds one command: Redis answers in milliseconds, a hash in less
// than a second.
const timeout = 30 * time.Second

// errArgvPassword refuses a password given as an argument, without
// repeating it.
var errArgvPassword = errors.New("a password is never taken from the command line (ps shows it to every user, " +
	"and it stays in the shell history): use --password-stdin, or type it at the prompt")

// User runs `go-jwt user ARGS...` and returns the exit status.
func User(args []string, env Env) int {
	if err := run(args, env); err != nil {
		_, _ = fmt.Fprintln(env.Stderr, "go-jwt user:", err)
		return 1
	}
	return 0
}

// command is one parsed command line.
type command struct {
	verb          string
	args          []string
	roles         []string
	passwordStdin bool
}

const usage = "want add, roles, passwd, lock, unlock, delete or list (see README: operator command line)"

func parse(args []string) (command, error) {
	for _, a := range args {
		if f := strings.TrimLeft(a, "-"); a != f && (f == "password" || f == "p" || strings.HasPrefix(f, "password=")) {
			return command{}, errArgvPassword
		}
	}
	if len(args) == 0 {
		return command{}, errors.New(usage)
	}
	c := command{verb: args[0]}
	fs := flag.NewFlagSet("user "+c.verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("role", "a role (repeatable)", func(r string) error { c.roles = append(c.roles, r); return nil })
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from standard input")
	for rest := args[1:]; ; { // flags may come before or after the name
		if err := fs.Parse(rest); err != nil {
			return command{}, err
		}
		if fs.NArg() == 0 {
			break
		}
		c.args, rest = append(c.args, fs.Arg(0)), fs.Args()[1:]
	}
	want := map[string]int{"add": 1, "passwd": 1, "lock": 1, "unlock": 1, "delete": 1, "list": 0}
	n, known := want[c.verb]
	switch {
	case c.verb == "roles" && len(c.args) < 2:
		return command{}, errors.New("roles: want NAME and at least one role")
	case c.verb == "roles":
	case !known:
		return command{}, fmt.Errorf("unknown command %q: %s", c.verb, usage)
	case len(c.args) != n:
		return command{}, fmt.Errorf("%s: want %d argument(s), got %d", c.verb, n, len(c.args))
	}
	if len(c.roles) > 0 && c.verb != "add" {
		return command{}, fmt.Errorf("%s: --role is for add (roles: user roles NAME R...)", c.verb)
	}
	if c.passwordStdin && c.verb != "add" && c.verb != "passwd" {
		return command{}, fmt.Errorf("%s: --password-stdin is for add and passwd", c.verb)
	}
	return c, nil
}

func run(args []string, env Env) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	cfg, err := initialize.LoadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if len(cfg.RedisAddrs) == 0 {
		return errors.New("REDIS_ADDR is not set: the user commands change the service's own Redis; set REDIS_ADDR (and REDIS_PASSWORD ...) as for the server")
	}
	events := initialize.NewLogger(cfg, env.Stderr)
	rdb, closeRedis, err := initialize.NewRedis(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer closeRedis()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, store, hasher, err := initialize.Accounts(ctx, cfg, rdb, events, time.Now, nil)
	if err != nil {
		return err
	}
	o := &operator{c: c, env: env, store: store, factors: mfa.NewLookup(rdb), hasher: hasher, events: events}
	return o.do(ctx)
}

// operator runs one parsed command on the stores.
type operator struct {
	c       command
	env     Env
	store   *accounts.Store
	factors mfa.Lookup
	hasher  *utils.Hasher
	events  *slog.Logger
}

func (o *operator) do(ctx context.Context) error {
	if o.c.verb == "list" {
		return o.list(ctx)
	}
	name, err := utils.CanonicalUsername(o.c.args[0])
	if err != nil {
		if o.c.verb != "add" {
			return fmt.Errorf("%s: no such user", o.c.args[0])
		}
		return fmt.Errorf("%s: %v", o.c.args[0], err)
	}
	var n int
	var out string
	switch o.c.verb {
	case "add":
		var a utils.Account
		if a, err = o.add(ctx, name); err == nil {
			out = "created, roles " + roleList(a.Roles)
		}
	case "roles":
		var a utils.Account
		if a, err = o.store.SetRoles(ctx, name, o.c.args[1:]); err == nil {
			n, out = a.Sessions, fmt.Sprintf("roles %s; access tokens of %d session(s) cut", roleList(a.Roles), a.Sessions)
		}
	case "passwd":
		var hash string
		if hash, err = o.newHash(ctx, name); err == nil {
			n, err = o.store.SetPassword(ctx, name, hash)
			out = fmt.Sprintf("password set; %d session(s) ended", n)
		}
	case "lock":
		n, err = o.store.Lock(ctx, name)
		out = fmt.Sprintf("locked; %d session(s) ended", n)
	case "unlock":
		err, out = o.store.Unlock(ctx, name), "unlocked"
	case "delete":
		n, err = o.store.Delete(ctx, name)
		out = fmt.Sprintf("deleted; %d session(s) ended", n)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", name, describe(err))
	}
	accounts.LogAction(o.events, actor, actions[o.c.verb], name, "sessions", n)
	_, _ = fmt.Fprintf(o.env.Stdout, "%s: %s\n", name, out)
	return nil
}

func (o *operator) add(ctx context.Context, name string) (utils.Account, error) {
	var roles []string // none given: DEFAULT_ROLES
	if len(o.c.roles) > 0 {
		var err error
		if roles, err = utils.ParseRoles(o.c.roles); err != nil { // before the password is asked for
			return utils.Account{}, err
		}
	}
	hash, err := o.newHash(ctx, name)
	if err != nil {
		return utils.Account{}, err
	}
	return o.store.Create(ctx, name, hash, roles)
}

// list prints every user, one a line: name, roles, locked or unlocked,
// and totp when TOTP is on (else -).
func (o *operator) list(ctx context.Context) error {
	w := bufio.NewWriter(o.env.Stdout)
	for cursor := ""; ; {
		page, next, err := o.store.List(ctx, cursor, 200)
		var on []bool
		if err == nil {
			names := make([]string, len(page))
			for i, a := range page {
				names[i] = a.Name
			}
			on, err = o.factors.TOTPOn(ctx, names)
		}
		if err != nil {
			return errors.New(describe(err))
		}
		for i, a := range page {
			state, second := "unlocked", "-"
			if a.Locked {
				state = "locked"
			}
			if on[i] {
				second = "totp"
			}
			_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Name, roleList(a.Roles), state, second)
		}
		if next == "" {
			return w.Flush()
		}
		cursor = next
	}
}

func roleList(roles []string) string {
	if len(roles) == 0 {
		return "-"
	}
	return strings.Join(roles, ",")
}

// actions names each command's change as the admin API's security events
// and metrics do.
var actions = map[string]string{"add": "create", "roles": "roles", "passwd": "password", "lock": "lock", "unlock": "unlock", "delete": "delete"}

// describe says what went wrong in the words of the command line.
func describe(err error) string {
	switch {
	case errors.Is(err, global.ErrNotFound):
		return "no such user"
	case errors.Is(err, global.ErrConflict):
		return "exists already"
	case errors.Is(err, global.ErrInvalidRequest):
		return strings.TrimPrefix(err.Error(), global.ErrInvalidRequest.Error()+": ")
	}
	return err.Error()
}
