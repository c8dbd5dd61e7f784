package browser

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// TestDemoPageTwoFactor turns two-factor authentication on in the page
// (QR code and key shown, recovery codes shown once), signs in with the
// second step using codes the test computes from the key it read off the
// page, with a recovery code, and turns it off again.
func TestDemoPageTwoFactor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The test moves the service's clock 30 s per code; the page's DPoP
	// proofs are dated by the browser's real clock, so they may be as old
	// as the clock has moved.
	r := newRig(ctx, t, false, "DPOP_MAX_AGE", "10m")
	b := r.firstTab()
	user, password := "dave", "correct-horse-battery"
	fill := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(sel), value)
	}
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	// code is the TOTP code of the next time step: a code works once.
	code := func(secret string) string {
		r.clock.Advance(30 * time.Second)
		c, err := totp.GenerateCode(secret, r.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	passwordLogin := func(step string) {
		b.do(step, fill("#username", user), fill("#password", password), click("#login-btn"))
	}

	b.do("open the page", chromedp.Navigate(r.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("register", fill("#username", user), fill("#password", password), click("#register-btn"))
	b.waitWelcome(user)
	b.do("status off", until(`document.querySelector('#mfa-status').textContent === 'Off' && !document.querySelector('#mfa-off').hidden`))
	other := login(ctx, t, r.api, user, password) // a second device, password only

	// 1. Set up: the QR code (a data: image the page's CSP allows) and the key.
	b.do("enroll", fill("#mfa-enable-password", password), click("#mfa-enable"), chromedp.WaitVisible(chromedp.CSS("#mfa-enroll")),
		until(`document.querySelector('#mfa-qr').complete && document.querySelector('#mfa-qr').naturalWidth > 0 &&
			document.querySelector('#mfa-qr').src.startsWith('data:image/png;base64,')`))
	secret := b.text("#mfa-secret")
	if len(secret) != 32 || strings.ToUpper(secret) != secret {
		t.Fatalf("key on the page %q: want 32 base32 characters", secret)
	}
	b.shot("mfa-01-enroll")

	// 2. Confirm with the app's code: recovery codes, shown once; the other
	// device is signed out.
	r.clock.Advance(-30 * time.Second) // code() moves to the next step: this one is the current step
	b.do("confirm", fill("#mfa-confirm-code", code(secret)), click("#mfa-confirm"), chromedp.WaitVisible(chromedp.CSS("#mfa-recovery")),
		until(`document.querySelectorAll('#mfa-recovery-codes li').length === 10`))
	codes := b.list(`#mfa-recovery-codes li`)
	b.shot("mfa-02-recovery-codes")
	if text := b.text("#notice"); !strings.Contains(text, "other sessions were signed out") {
		t.Errorf("confirm notice %q", text)
	}
	if status := welcome(ctx, t, r.api, other); status != http.StatusUnauthorized {
		t.Errorf("the password-only device after confirmation: welcome %d, want 401", status)
	}
	b.do("codes saved", click("#mfa-recovery-done"),
		until(`document.querySelector('#mfa-recovery').hidden && document.querySelector('#mfa-recovery-codes').children.length === 0 &&
			document.querySelector('#mfa-status').textContent === 'On · 10 recovery codes left' && document.querySelector('#mfa-secret').textContent === ''`))

	// 3. Log out; the password alone now leads to the code form.
	b.do("logout", click("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	r.console.expect(http.StatusForbidden, "/public/login")
	passwordLogin("password step")
	b.do("code form", chromedp.WaitVisible(chromedp.CSS("#mfa-form")), until(`document.querySelector('#login-form').hidden`))
	b.shot("mfa-03-code-form")
	b.do("second step", fill("#mfa-code", code(secret)), click("#mfa-btn"))
	b.waitWelcome(user)
	b.checkTokenStorage()

	// 4. With a recovery code (as shown, dashes and all).
	b.do("logout", click("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	r.console.expect(http.StatusForbidden, "/public/login")
	passwordLogin("password step, again")
	b.do("recovery code", chromedp.WaitVisible(chromedp.CSS("#mfa-form")), fill("#mfa-code", codes[0]), click("#mfa-btn"))
	b.waitWelcome(user)
	b.do("one code used", until(`document.querySelector('#mfa-status').textContent === 'On · 9 recovery codes left'`))

	// 5. Turn it off: the password alone signs in again.
	b.do("disable", fill("#mfa-manage-password", password), fill("#mfa-manage-code", code(secret)), click("#mfa-disable"),
		until(`document.querySelector('#mfa-status').textContent === 'Off' && !document.querySelector('#mfa-off').hidden`))
	b.shot("mfa-04-off")
	b.do("logout", click("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	passwordLogin("password only")
	b.waitWelcome(user)

	// 6. On again, then a wrong code is told apart from an expired sign-in.
	b.do("enroll again", fill("#mfa-enable-password", password), click("#mfa-enable"), chromedp.WaitVisible(chromedp.CSS("#mfa-enroll")))
	secret = b.text("#mfa-secret")
	b.do("confirm again", fill("#mfa-confirm-code", code(secret)), click("#mfa-confirm"), chromedp.WaitVisible(chromedp.CSS("#mfa-recovery")))
	b.do("logout", click("#mfa-recovery-done"), click("#logout"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	r.console.expect(http.StatusForbidden, "/public/login")
	passwordLogin("password step, last")
	r.console.expect(http.StatusUnauthorized, "/public/login/mfa")
	b.do("wrong code", chromedp.WaitVisible(chromedp.CSS("#mfa-form")), fill("#mfa-code", wrong(code(secret))), click("#mfa-btn"))
	b.waitError("Wrong code")
	b.shot("mfa-05-wrong-code")

	for _, s := range append([]string{secret}, codes...) {
		if strings.Contains(r.log.String(), s) {
			t.Errorf("the service log holds a secret or a recovery code: %q", s)
		}
	}
	r.checkConsole()
}

// wrong is a six-digit code other than c.
func wrong(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// list is the text of every element sel matches.
func (b *tab) list(sel string) []string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent)`, sel)))
	if err != nil {
		b.fail("read "+sel, err)
	}
	return out
}
