package cli

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go-jwt/utils/mfa"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestUserCommands: every command of the binary against the Redis the
// running service uses; each change shows at the user's next request.
func TestUserCommands(t *testing.T) {
	r := newRig(t)
	r.serve()

	// The first admin, as docs/DEPLOY.md has it (password on stdin).
	if out := r.ok("root-password\n", "add", "root", "--role", "admin", "--password-stdin"); out != "root: created, roles admin\n" {
		t.Fatalf("add: %q", out)
	}
	if out := r.ok("bob-password\n", "add", "Bob", "--password-stdin"); out != "bob: created, roles user\n" {
		t.Fatalf("add without --role: %q, want DEFAULT_ROLES", out)
	}
	r.fails("exists already", "other-password\n", "add", "bob", "--password-stdin")
	root, code := r.login("root", "root-password")
	if code != 200 || !slices.Equal(roles(t, root.Access), []string{"admin"}) {
		t.Fatalf("the admin's login: %d", code)
	}
	if a := r.call("GET", "/admin/users/bob", root.Access, nil); a.Status != 200 {
		t.Fatalf("the admin API sees no bob: %v", a)
	}

	// roles: bob's access token dies at its next request, refresh brings the roles.
	bob, _ := r.login("bob", "bob-password")
	if out := r.ok("", "roles", "bob", "user", "editor"); !strings.HasPrefix(out, "bob: roles editor,user;") {
		t.Fatalf("roles: %q", out)
	}
	if a := r.call("GET", "/user/welcome", bob.Access, nil); a.Status != 401 {
		t.Fatalf("bob's access token after the role change: %v", a)
	}
	a := r.call("POST", "/public/refresh", bob.Refresh, nil)
	var next struct{ AccessToken string }
	if a.Status != 200 || jsonInto(a.Body, &next) != nil || !slices.Equal(roles(t, next.AccessToken), []string{"editor", "user"}) {
		t.Fatalf("bob's refresh after the role change: %v", a)
	}
	r.fails(`role "Editor"`, "", "roles", "bob", "Editor")

	// lock: every session ends, the right password is 403, unlock restores.
	if out := r.ok("", "lock", "bob"); out != "bob: locked; 1 session(s) ended\n" {
		t.Fatalf("lock: %q", out)
	}
	if a := r.call("GET", "/user/welcome", next.AccessToken, nil); a.Status != 401 {
		t.Fatalf("bob's token after the lock: %v", a)
	}
	if _, code := r.login("bob", "bob-password"); code != 403 {
		t.Fatalf("a locked account's login: %d, want 403", code)
	}
	if _, code := r.login("bob", "wrong-password"); code != 401 {
		t.Fatalf("a locked account's wrong password: %d, want 401", code)
	}
	if out := r.ok("", "list"); out != "bob\teditor,user\tlocked\t-\nroot\tadmin\tunlocked\t-\n" {
		t.Fatalf("list: %q", out)
	}
	r.ok("", "unlock", "bob")
	bob, code = r.login("bob", "bob-password")
	if code != 200 {
		t.Fatalf("login after unlock: %d", code)
	}

	// passwd: every session ends, only the new password works.
	if out := r.ok("bob-new-password\n", "passwd", "bob", "--password-stdin"); out != "bob: password set; 1 session(s) ended\n" {
		t.Fatalf("passwd: %q", out)
	}
	if a := r.call("GET", "/user/welcome", bob.Access, nil); a.Status != 401 {
		t.Fatalf("bob's token after passwd: %v", a)
	}
	if _, code := r.login("bob", "bob-password"); code != 401 {
		t.Fatalf("the old password after passwd: %d", code)
	}
	bob, _ = r.login("bob", "bob-new-password")
	r.fails("password must be 8 to 128 characters", "short\n", "passwd", "bob", "--password-stdin")

	// delete: every session ends, the name can be registered again.
	r.ok("", "delete", "bob")
	if a := r.call("GET", "/user/welcome", bob.Access, nil); a.Status != 401 {
		t.Fatalf("bob's token after delete: %v", a)
	}
	if out := r.ok("", "list"); out != "root\tadmin\tunlocked\t-\n" {
		t.Fatalf("list after delete: %q", out)
	}

	// TOTP on shows in the list (an enrollment only pending does not).
	e := r.call("POST", "/user/mfa/totp/enroll", root.Access, url.Values{"password": {"root-password"}})
	var enrolled struct{ Secret string }
	if e.Status != 200 || jsonInto(e.Body, &enrolled) != nil {
		t.Fatalf("enroll: %v", e.Status)
	}
	if out := r.ok("", "list"); out != "root\tadmin\tunlocked\t-\n" {
		t.Fatalf("list while the enrollment is pending: %q", out)
	}
	totp, err := mfa.Code(enrolled.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a := r.call("POST", "/user/mfa/totp/confirm", root.Access, url.Values{"code": {totp}}); a.Status != 200 {
		t.Fatalf("confirm: %v", a.Status)
	}
	if out := r.ok("", "list"); out != "root\tadmin\tunlocked\ttotp\n" {
		t.Fatalf("list with TOTP on: %q", out)
	}
	if a := r.call("POST", "/public/register", "", url.Values{"username": {"bob"}, "password": {"a new bob here"}}); a.Status != 201 {
		t.Fatalf("register a deleted name: %v", a)
	}

	// The last admin stays.
	for _, args := range [][]string{{"roles", "root", "user"}, {"lock", "root"}, {"delete", "root"}} {
		r.fails("that would leave no unlocked admin", "", args...)
	}
}

// TestUserCommandErrors: a password on the command line is refused without
// being repeated; an unknown user, a bad command or a missing Redis is one
// line and exit 1.
func TestUserCommandErrors(t *testing.T) {
	r := newRig(t)
	const secret = "hunter2-hunter2"
	for _, args := range [][]string{
		{"add", "carl", "--password", secret}, {"add", "carl", "--password=" + secret}, {"add", "-p", secret, "carl"},
		{"passwd", "carl", "-password", secret},
	} {
		line := r.fails("never taken from the command line", "", args...)
		if strings.Contains(line, secret) {
			t.Fatalf("%v: the refusal repeats the password: %q", args, line)
		}
	}
	r.fails("no password: pass --password-stdin", "", "add", "carl")
	r.fails("standard input holds no password", "", "add", "carl", "--password-stdin")
	for _, verb := range []string{"lock", "unlock", "delete", "roles", "passwd"} {
		args := []string{verb, "nobody"}
		if verb == "roles" {
			args = append(args, "user")
		}
		stdin := ""
		if verb == "passwd" {
			args, stdin = append(args, "--password-stdin"), "long enough pw\n"
		}
		r.fails("nobody: no such user", stdin, args...)
	}
	r.fails(`unknown command "frob"`, "", "frob")
	r.fails("want add, roles", "")
	r.fails("lock: want 1 argument(s), got 2", "", "lock", "a", "b")
	r.fails("flag provided but not defined", "", "list", "--all")
	r.env = slices.DeleteFunc(r.env, func(kv string) bool { return strings.HasPrefix(kv, "REDIS_ADDR=") })
	r.fails("REDIS_ADDR is not set", "", "list")
}

func jsonInto(s string, v any) error { return json.Unmarshal([]byte(s), v) }
