// Package browser drives the demo front end (package web) in a real headless
// Chromium against the real router: served from another origin than the API,
// so CORS and the cross-origin refresh cookie work as they do for a
// single-page app, and served by the service itself (DEMO_PAGE), under its
// content security policy.
package browser

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoPage walks a person's visit: register, the silent refresh after
// the access token expired, a second device and its revocation, two tabs
// refreshing at once, logout, logout everywhere, and the error messages.
// Every step is screenshotted; the browser console must stay free of errors.
func TestDemoPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRig(ctx, t, false)
	b := r.firstTab()
	// Fixed names: each run has its own miniredis, and the screenshot in
	// docs/ reads better with a person's name than a random one.
	user, password := "alice", "correct-horse-battery"

	// 1. First visit: the silent refresh finds no cookie, the login form shows.
	b.do("open the page", chromedp.Navigate(r.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.shot("01-login-form")
	if n := r.hits.count("POST", "/public/refresh", http.StatusUnauthorized); n != 1 {
		t.Errorf("first visit: want 1 silent refresh answered 401, got %d", n)
	}

	// 2. Register: the page registers, logs in and greets.
	b.do("register",
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#register-btn")),
	)
	b.waitWelcome(user)
	b.waitSessions(1)
	b.shot("02-welcome")
	if r.hits.count("POST", "/public/register", http.StatusCreated) != 1 || r.hits.count("POST", "/public/login", http.StatusOK) != 1 {
		t.Errorf("register: want one 201 register and one 200 login, got %v", r.hits.all())
	}
	b.checkTokenStorage()

	// 3. Past the access token's lifetime, an action gets a 401, refreshes
	// with the cookie by itself and retries: the user sees nothing happen.
	refreshed := r.hits.count("POST", "/public/refresh", http.StatusOK)
	r.clock.Advance(accessTTL + time.Second)
	b.do("refresh welcome", chromedp.Click(chromedp.CSS("#refresh-welcome")))
	b.poll("silent refresh", func() bool { return r.hits.count("POST", "/public/refresh", http.StatusOK) == refreshed+1 })
	b.do("refresh done", until(`!document.querySelector('#refresh-welcome').disabled`))
	b.waitWelcome(user)
	b.shot("03-after-silent-refresh")
	if r.hits.count("GET", "/user/welcome", http.StatusUnauthorized) != 1 {
		t.Errorf("silent refresh: want exactly one 401 on /user/welcome, got %v", r.hits.all())
	}
	if text := b.text("#error"); text != "" {
		t.Errorf("silent refresh showed an error: %q", text)
	}

	// 4. A second device logs in: Go's client, with a phone's User-Agent.
	other := login(ctx, t, r.api, user, password)
	if status := welcome(ctx, t, r.api, other); status != http.StatusOK {
		t.Fatalf("second device: welcome answered %d", status)
	}
	b.do("reload sessions", chromedp.Click(chromedp.CSS("#reload-sessions")))
	b.waitSessions(2)
	b.do("this device marked",
		until(`document.querySelectorAll('#sessions li.current').length === 1 &&
			document.querySelector('#sessions li.current').textContent.includes('This device') &&
			document.querySelectorAll('#sessions li.current .revoke').length === 0 &&
			document.querySelectorAll('#sessions .revoke').length === 1`))
	b.do("mouse away", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1)) // no hover look in the picture
	signedIn := b.shot("04-two-sessions")
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "demo.png"), signedIn, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote docs/demo.png")
	}

	// 5. Revoke the other device: its access token dies at once.
	b.do("revoke", chromedp.Click(chromedp.CSS("#sessions .revoke")))
	b.waitSessions(1)
	b.do("revoked notice", chromedp.WaitVisible(chromedp.CSS("#notice")))
	b.shot("05-revoked")
	if status := welcome(ctx, t, r.api, other); status != http.StatusUnauthorized {
		t.Errorf("revoked session: welcome answered %d, want 401", status)
	}

	// 6. A reload forgets the in-memory access token; the cookie restores
	// the session without a password.
	b.do("reload page", chromedp.Reload())
	b.waitWelcome(user)
	b.waitSessions(1)

	// 7. Two tabs share the session (one cookie). Loading the second one
	// rotates the refresh token, and the first tab takes over its access
	// token. Past the access token's lifetime, both need a refresh at the
	// same moment: the Web Lock lets one at a time present the cookie, so the
	// server sees no reuse of a rotated token and revokes nothing.
	b2, closeTab2 := r.newTab()
	b2.do("second tab", chromedp.Navigate(r.page))
	b2.waitWelcome(user)
	b.do("first tab still signed in", chromedp.Click(chromedp.CSS("#refresh-welcome")),
		until(`!document.querySelector('#refresh-welcome').disabled`))
	b.waitWelcome(user)
	refreshed, failed := r.hits.count("POST", "/public/refresh", http.StatusOK), r.hits.count("POST", "/public/refresh", http.StatusUnauthorized)
	r.clock.Advance(accessTTL + time.Second)
	click := chromedp.Evaluate[chromedp.Void](`document.querySelector('#refresh-welcome').click()`)
	b.do("tab 1 refreshes", click)
	b2.do("tab 2 refreshes", click)
	for _, tb := range []*tab{b, b2} {
		tb.do("refresh done", until(`!document.querySelector('#refresh-welcome').disabled`))
		tb.waitWelcome(user)
	}
	if n := r.hits.count("POST", "/public/refresh", http.StatusOK) - refreshed; n != 1 {
		t.Errorf("two tabs: %d refreshes, want 1: the tab that waited for the lock takes the new token", n)
	}
	if r.hits.count("POST", "/public/refresh", http.StatusUnauthorized) != failed || strings.Contains(r.log.String(), "reuse") {
		t.Errorf("two tabs: a refresh failed or was taken for reuse: %v", r.hits.all())
	}
	b2.shot("07-second-tab")
	closeTab2()

	// 8. Logout: the login form is back, the cookie is gone, and a reload
	// stays signed out.
	b.do("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.shot("08-logged-out")
	if c := b.refreshCookie(); c != nil {
		t.Errorf("logout left the refresh cookie: %+v", c)
	}
	b.do("reload after logout", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if !b.eval(`document.querySelector('#app').hidden`) {
		t.Error("after logout and reload the signed-in view shows")
	}

	// 9. Log in with the form, then log out everywhere.
	b.do("login",
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-btn")),
	)
	b.waitWelcome(user)
	b.do("logout everywhere", chromedp.Click(chromedp.CSS("#logout-all")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if text := b.text("#notice"); !strings.Contains(text, "Logged out of 1 session") {
		t.Errorf("logout everywhere: notice %q", text)
	}
	b.shot("09-logged-out-everywhere")

	// 10. Errors in words a person understands. Each error answer provoked
	// here is declared, so its network line in the console is expected.
	form := func(name, pass, button string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SetValue(chromedp.CSS("#username"), name),
			chromedp.SetValue(chromedp.CSS("#password"), pass),
			chromedp.Click(chromedp.CSS(button)),
		)
	}
	r.console.expect(http.StatusUnauthorized, "/public/login")
	b.do("wrong password", form(user, "wrong-password", "#login-btn"))
	b.waitError("Wrong username or password")
	r.console.expect(http.StatusTooManyRequests, "/public/login")
	b.do("rate limited", form(user, "wrong-password", "#login-btn"))
	b.waitError("Too many attempts — try again in ")
	if msg := b.text("#error"); !strings.HasSuffix(msg, " seconds") || msg == "Too many attempts — try again in  seconds" {
		t.Errorf("429 message without the Retry-After seconds: %q", msg)
	}
	b.shot("10-rate-limited")
	r.console.expect(http.StatusConflict, "/public/register")
	b.do("name taken", form(user, password, "#register-btn"))
	b.waitError("That username is taken")
	r.console.expect(http.StatusBadRequest, "/public/register")
	b.do("short password", form("bob", "short", "#register-btn"))
	b.waitError("Password must be 8 to 128 characters")
	r.redis.Close() // Redis goes away: 503, never a 401
	r.console.expect(http.StatusServiceUnavailable, "/public/login")
	b.do("redis down", form(user, password, "#login-btn"))
	b.waitError("The service is temporarily unavailable — try again shortly")
	b.shot("11-unavailable")

	r.checkConsole()
}

// TestDemoPageSameOrigin opens the page where the service itself serves it
// (DEMO_PAGE=on, no CORS), under its content security policy: sign up,
// reload to restore the session from the cookie, log out.
func TestDemoPageSameOrigin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRig(ctx, t, true)
	b := r.firstTab()

	b.do("open the page", chromedp.Navigate(r.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("register",
		chromedp.SendKeys(chromedp.CSS("#username"), "carol"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS("#register-btn")),
	)
	b.waitWelcome("carol")
	b.waitSessions(1)
	b.checkTokenStorage()
	r.clock.Advance(accessTTL + time.Second)
	b.do("reload page", chromedp.Reload())
	b.waitWelcome("carol")
	b.shot("same-origin-welcome")
	b.do("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	r.checkConsole()
}
