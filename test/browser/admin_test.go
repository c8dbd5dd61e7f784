package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// credentials posts {"username","password"} to the API's path from Go's
// client and returns the status.
func credentials(ctx context.Context, t *testing.T, api, path, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// row is a condition on the admin table's row of user.
func row(user, cond string) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('#users tr[data-name=%q]'); return !!r && (%s); })()`, user, cond)
}

// TestDemoPageAdmin: an admin who signs in sees the user table (roles,
// status, sessions) and locks and unlocks a user, whose session ends at
// once and whose login is refused while locked; a user without the admin
// role sees no table.
func TestDemoPageAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRig(ctx, t, false)
	b := r.firstTab()
	const pw = "correct-horse-battery"
	for _, u := range []string{"root", "alice", "bob"} {
		if status := credentials(ctx, t, r.api, "/public/register", u, pw); status != http.StatusCreated {
			t.Fatalf("register %s: %d", u, status)
		}
	}
	// The first admin, as `go-jwt user roles root admin user` makes it.
	if _, err := r.accounts.SetRoles(ctx, "root", []string{"admin", "user"}); err != nil {
		t.Fatal(err)
	}
	bob := login(ctx, t, r.api, "bob", pw) // bob is signed in elsewhere

	// A user without the admin role: no table.
	b.do("open the page", chromedp.Navigate(r.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	signIn := func(user string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SetValue(chromedp.CSS("#username"), user),
			chromedp.SetValue(chromedp.CSS("#password"), pw),
			chromedp.Click(chromedp.CSS("#login-btn")),
		)
	}
	b.do("alice signs in", signIn("alice"))
	b.waitWelcome("alice")
	b.waitSessions(1)
	if !b.eval(`document.querySelector('#admin').hidden`) {
		t.Error("the user table shows to a user without the admin role")
	}
	b.do("alice logs out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))

	// The admin: the table lists everyone with roles, status and sessions.
	b.do("root signs in", signIn("root"))
	b.waitWelcome("root")
	b.do("user table", chromedp.WaitVisible(chromedp.CSS("#admin")),
		until(`document.querySelectorAll('#users tbody tr').length === 3`),
		until(row("root", `r.cells[1].textContent === 'admin, user' && !r.querySelector('button')`)),
		until(row("bob", `r.cells[1].textContent === 'user' && r.cells[2].textContent === 'Active' && r.cells[3].textContent === '1'`)),
	)
	b.do("mouse away", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1))
	b.shot("admin-01-users")

	// Lock bob: his session ends at his next request, his login is refused.
	b.do("lock bob", chromedp.Click(chromedp.CSS(`#users tr[data-name="bob"] button.lock-toggle`)),
		until(row("bob", `r.cells[2].textContent === 'Locked' && r.cells[3].textContent === '0' && r.querySelector('button').textContent === 'Unlock'`)))
	if text := b.text("#notice"); text != "bob is locked and signed out everywhere" {
		t.Errorf("notice after the lock: %q", text)
	}
	b.shot("admin-02-locked")
	if status := welcome(ctx, t, r.api, bob); status != http.StatusUnauthorized {
		t.Errorf("bob's session after the lock: welcome answered %d, want 401", status)
	}
	if status := credentials(ctx, t, r.api, "/public/login", "bob", pw); status != http.StatusForbidden {
		t.Errorf("bob's login while locked: %d, want 403", status)
	}

	// Unlock: bob signs in again.
	b.do("unlock bob", chromedp.Click(chromedp.CSS(`#users tr[data-name="bob"] button.lock-toggle`)),
		until(row("bob", `r.cells[2].textContent === 'Active' && r.querySelector('button').textContent === 'Lock'`)))
	if status := credentials(ctx, t, r.api, "/public/login", "bob", pw); status != http.StatusOK {
		t.Errorf("bob's login after the unlock: %d, want 200", status)
	}
	b.do("reload users", chromedp.Click(chromedp.CSS("#reload-users")),
		until(row("bob", `r.cells[3].textContent === '1'`)))
	r.checkConsole()
}
