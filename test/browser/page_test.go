package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// until waits for a page condition. It polls on a timer, not on animation
// frames, which a tab behind another window may not get.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(25*time.Millisecond))
}

// tab runs the steps of the test on one browser tab.
type tab struct {
	*rig
	ctx context.Context
}

// do runs actions, each step bounded, and on failure stops the test with a
// screenshot and what the page and the service said.
func (b *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

func (b *tab) fail(step string, err error) {
	b.t.Helper()
	b.shot("failure")
	b.t.Fatalf("%s: %v\npage error: %q\nAPI requests: %v\nservice log:\n%s",
		step, err, b.text("#error"), b.hits.all(), b.log.String())
}

// poll waits, bounded, for a condition outside the page.
func (b *tab) poll(step string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.fail(step, errors.New("timed out"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *tab) waitWelcome(user string) {
	b.t.Helper()
	b.do("welcome shown",
		chromedp.WaitVisible(chromedp.CSS("#welcome")),
		until(fmt.Sprintf(`document.querySelector('#welcome').textContent === %q`, "Welcome ! "+user)),
	)
}

// waitError waits until #error shows a message starting with want.
func (b *tab) waitError(want string) {
	b.t.Helper()
	b.do("error "+want, until(fmt.Sprintf(
		`!document.querySelector('#error').hidden && document.querySelector('#error').textContent.startsWith(%q)`, want)))
}

func (b *tab) waitSessions(n int) {
	b.t.Helper()
	b.do(fmt.Sprintf("%d sessions listed", n),
		until(fmt.Sprintf(`document.querySelectorAll('#sessions li').length === %d`, n)))
}

// text is an element's text, "" when it is hidden or missing.
func (b *tab) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return e && !e.hidden ? e.textContent : ''; })()`, sel)))
	return s
}

func (b *tab) eval(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.fail(expr, err)
	}
	return v
}

// shot saves a screenshot of the whole page and returns it.
func (b *tab) shot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return nil
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	return png
}

// checkTokenStorage checks where the tokens are not: the access token stays
// in memory (no Web Storage), and the refresh cookie is HttpOnly, so page
// scripts cannot read it, SameSite=Strict and scoped to /public.
func (b *tab) checkTokenStorage() {
	b.t.Helper()
	if !b.eval(`localStorage.length === 0 && sessionStorage.length === 0 && !document.cookie.includes('go_jwt_refresh')`) {
		b.t.Error("a token is in Web Storage or readable in document.cookie")
	}
	c := b.refreshCookie()
	switch {
	case c == nil:
		b.t.Error("no refresh cookie after login")
	case !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/public":
		b.t.Errorf("refresh cookie: httpOnly=%v sameSite=%q path=%q", c.HTTPOnly, c.SameSite, c.Path)
	}
}

func (b *tab) refreshCookie() *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.api + "/public/refresh"}})
	if err != nil {
		b.fail("read cookies", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "go_jwt_refresh" {
			return c
		}
	}
	return nil
}
