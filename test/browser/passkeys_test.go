package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// TestPasskeys walks a person through passkeys in the demo page, with a
// virtual authenticator of Chromium's DevTools (a platform authenticator:
// CTAP2, internal transport, resident keys, user verification that
// succeeds): sign in with the password, add a passkey, log out, sign in
// with the passkey without typing a username and see the welcome; delete
// the passkey and see a sign-in with it refused. The page is served by the
// service on http://localhost (a secure context, and the RP ID).
func TestPasskeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := newRigWith(ctx, t, rigOptions{sameOrigin: true, host: "localhost", passkeys: true})
	b := r.firstTab()
	auth := b.virtualAuthenticator()
	user, password := "dana", "correct-horse-battery"
	register(ctx, t, r.api, user, password)

	// 1. Sign in with the password.
	b.do("open the page", chromedp.Navigate(r.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("passkey button offered", chromedp.WaitVisible(chromedp.CSS("#passkey-login-btn")))
	b.shot("passkeys-01-login-form")
	b.do("password login",
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-btn")),
	)
	b.waitWelcome(user)
	b.do("no passkey yet", chromedp.WaitVisible(chromedp.CSS("#passkeys-empty")))

	// 2. Add a passkey: the password again, then the authenticator makes a
	// discoverable credential for RP ID localhost.
	b.do("add a passkey",
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "This laptop"),
		chromedp.SendKeys(chromedp.CSS("#passkey-password"), password),
		chromedp.Click(chromedp.CSS("#passkey-add-btn")),
	)
	b.waitPasskeys(1)
	b.do("added notice", until(`document.querySelector('#notice').textContent.includes('This laptop')`))
	if text := b.text("#passkeys li"); !strings.Contains(text, "This laptop") || !strings.Contains(text, "never used") {
		t.Errorf("passkey listed as %q", text)
	}
	b.shot("passkeys-02-added")
	creds := b.credentials(auth)
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" || len(creds[0].UserHandle) != 32 {
		t.Fatalf("authenticator credentials %+v: want one resident credential for localhost with a 32-byte user handle", creds)
	}
	if r.hits.count("POST", "/user/passkeys/register/begin", http.StatusOK) != 1 || r.hits.count("POST", "/user/passkeys/register/finish", http.StatusCreated) != 1 {
		t.Errorf("registration: %v", r.hits.all())
	}

	// 3. Log out, then sign in with the passkey: no username typed.
	b.do("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if !b.eval(`document.querySelector('#username').value === '' && document.querySelector('#password').value === ''`) {
		t.Fatal("the login form is not empty after logout")
	}
	b.do("passkey sign-in", chromedp.Click(chromedp.CSS("#passkey-login-btn")))
	b.waitWelcome(user)
	b.waitPasskeys(1)
	b.do("last use shown", until(`document.querySelector('#passkeys li').textContent.includes('last used')`))
	b.shot("passkeys-03-signed-in-with-passkey")
	if r.hits.count("POST", "/public/passkeys/login/finish", http.StatusOK) != 1 || r.hits.count("POST", "/public/login", http.StatusOK) != 1 {
		t.Errorf("passkey sign-in: %v", r.hits.all())
	}
	if after := b.credentials(auth); len(after) != 1 || after[0].SignCount <= creds[0].SignCount {
		t.Errorf("the credential's counter did not go up with the sign-in: %v, then %+v", creds[0].SignCount, after)
	}
	// The session says how it was opened: amr ["hwk"] (in the refresh
	// token of the cookie; the access token lives in the page's memory).
	if c := b.refreshCookie(); c == nil || amr(t, c.Value) != `["hwk"]` {
		t.Errorf("passkey session: refresh cookie %v, want amr [\"hwk\"]", c)
	}
	b.checkTokenStorage()

	// 4. Delete the passkey: a sign-in with it is refused at once, although
	// the authenticator still offers it.
	b.do("delete the passkey", chromedp.Click(chromedp.CSS("#passkeys .delete-passkey")))
	b.waitPasskeys(0)
	b.do("deleted notice", until(`document.querySelector('#notice').textContent.startsWith('Passkey deleted')`))
	b.do("logout again", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	r.console.expect(http.StatusUnauthorized, "/public/passkeys/login/finish")
	b.do("sign-in with the deleted passkey", chromedp.Click(chromedp.CSS("#passkey-login-btn")))
	b.waitError("That passkey was not accepted")
	if !b.eval(`document.querySelector('#app').hidden`) {
		t.Error("a deleted passkey signed in")
	}
	b.shot("passkeys-04-deleted-passkey-refused")
	if r.hits.count("POST", "/public/passkeys/login/finish", http.StatusUnauthorized) != 1 {
		t.Errorf("deleted passkey: %v", r.hits.all())
	}

	// 5. A user with TOTP on signs in with a passkey and is asked no code
	// (a passkey is the second factor, SPEC §12). erin turns TOTP on from
	// Go's client, signs in here with the password and a code (adding a
	// factor needs a session opened with one), adds a passkey, logs out,
	// and signs in with the passkey: no code asked.
	if _, err := chromedp.Call(b.ctx, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: auth}); err != nil { // only erin's passkey left to offer
		t.Fatal(err)
	}
	erin := "erin"
	register(ctx, t, r.api, erin, password)
	secret := enableTOTP(ctx, t, r, erin, password)
	r.console.expect(http.StatusForbidden, "/public/login") // 403 mfa_required: the code form takes over
	b.do("erin's password login",
		chromedp.SetValue(chromedp.CSS("#username"), erin),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.WaitVisible(chromedp.CSS("#mfa-form")),
	)
	r.clock.Advance(30 * time.Second) // the next step: the confirming code was this step's
	code, err := totp.GenerateCode(secret, r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.do("erin's code", chromedp.SetValue(chromedp.CSS("#mfa-code"), code), chromedp.Click(chromedp.CSS("#mfa-btn")))
	b.waitWelcome(erin)
	b.do("erin adds a passkey",
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Phone"),
		chromedp.SendKeys(chromedp.CSS("#passkey-password"), password),
		chromedp.Click(chromedp.CSS("#passkey-add-btn")),
	)
	b.waitPasskeys(1)
	b.do("erin logs out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	before := r.hits.count("POST", "/public/login/mfa", http.StatusOK)
	b.do("erin's passkey sign-in", chromedp.Click(chromedp.CSS("#passkey-login-btn")))
	b.waitWelcome(erin)
	if !b.eval(`document.querySelector('#mfa-form').hidden`) || r.hits.count("POST", "/public/login/mfa", http.StatusOK) != before {
		t.Errorf("a code was asked after a passkey sign-in: %v", r.hits.all())
	}
	if c := b.refreshCookie(); c == nil || amr(t, c.Value) != `["hwk"]` {
		t.Errorf("erin's passkey session: refresh cookie %v, want amr [\"hwk\"]", c)
	}
	b.shot("passkeys-05-totp-user-signed-in-with-passkey")

	r.checkConsole()
}

// virtualAuthenticator adds a platform authenticator to the tab: CTAP2,
// internal transport, resident keys, user verification that succeeds, and
// presence confirmed without a person.
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.fail("enable WebAuthn", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		b.fail("add a virtual authenticator", err)
	}
	return res.AuthenticatorID
}

// credentials are what the authenticator holds.
func (b *tab) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.fail("read the authenticator's credentials", err)
	}
	return res.Credentials
}

func (b *tab) waitPasskeys(n int) {
	b.t.Helper()
	b.do(fmt.Sprintf("%d passkeys listed", n), until(fmt.Sprintf(`document.querySelectorAll('#passkeys li').length === %d`, n)))
}

// amr is the amr claim of a token, as JSON.
func amr(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		AMR json.RawMessage `json:"amr"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return string(claims.AMR)
}

// register creates an account from Go's client.
func register(ctx context.Context, t *testing.T, api, user, password string) {
	t.Helper()
	res := postCredentials(ctx, t, api+"/public/register", user, password)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d", user, res.StatusCode)
	}
}

// enableTOTP turns TOTP on for user from Go's client, with a code computed
// from the secret the service handed out (the step of the rig's clock), and
// returns the secret.
func enableTOTP(ctx context.Context, t *testing.T, r *rig, user, password string) string {
	t.Helper()
	token := login(ctx, t, r.api, user, password)
	var enrolled struct{ Secret string }
	if status := callJSON(ctx, t, r.api+"/user/mfa/totp/enroll", token, map[string]string{"password": password}, &enrolled); status != http.StatusOK || enrolled.Secret == "" {
		t.Fatalf("enroll %s: %d", user, status)
	}
	code, err := totp.GenerateCode(enrolled.Secret, r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var confirmed struct{ RecoveryCodes []string }
	if status := callJSON(ctx, t, r.api+"/user/mfa/totp/confirm", token, map[string]string{"code": code}, &confirmed); status != http.StatusOK || len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("confirm %s: %d", user, status)
	}
	return enrolled.Secret
}

// callJSON posts body as JSON with the access token and decodes the answer
// into out; it returns the status.
func callJSON(ctx context.Context, t *testing.T, url, token string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	_ = json.NewDecoder(res.Body).Decode(out)
	return res.StatusCode
}
