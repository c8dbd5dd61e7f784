package browser

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/domdebugger"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"go-jwt/utils/dpop"
)

// TestDemoPageDPoP: the page signs in bound to a key of this browser by
// default. An attacker who reads the access token out of the page's memory
// (here through the DevTools protocol, as a debugger or a malicious
// extension could) gets nothing out of it: it is refused as Bearer and
// with a proof by any other key. The page itself keeps working with it,
// across an access token's expiry (a silent refresh with a proof) and a
// reload (the key is kept in IndexedDB, non-extractable).
func TestDemoPageDPoP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRig(ctx, t, false)
	b := r.firstTab()
	user := "dora"

	b.signUp(user)
	b.do("bound line", until(`document.querySelector('#binding').textContent.includes('bound to this browser')`))
	b.shot("dpop-01-bound")
	b.checkTokenStorage()

	stolen := b.accessToken()
	jkt := cnfOf(t, stolen)
	if jkt == "" {
		t.Fatal("the page's access token is not DPoP-bound")
	}
	if status, _ := call(ctx, t, r.api, "Bearer "+stolen, ""); status != http.StatusUnauthorized {
		t.Errorf("the stolen token as Bearer: %d, want 401", status)
	}
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dpop.NewClient(thief, r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := c.Proof("GET", r.api+"/user/welcome", stolen, "")
	if err != nil {
		t.Fatal(err)
	}
	if status, challenge := call(ctx, t, r.api, "DPoP "+stolen, proof); status != http.StatusUnauthorized ||
		!strings.Contains(challenge, "invalid_dpop_proof") {
		t.Errorf("the stolen token with a fresh key's proof: %d %q, want 401 invalid_dpop_proof", status, challenge)
	}

	// The page's key cannot be read out either: it is non-extractable.
	if !b.evalAsync(`(async () => {
		const db = await new Promise((ok, fail) => { const o = indexedDB.open('go-jwt-dpop'); o.onsuccess = () => ok(o.result); o.onerror = fail; });
		const pair = await new Promise((ok) => { const g = db.transaction('keys').objectStore('keys').get('dpop-key'); g.onsuccess = () => ok(g.result); });
		db.close();
		if (!pair || pair.privateKey.extractable) return false;
		try { await crypto.subtle.exportKey('jwk', pair.privateKey); return false; } catch { return true; }
	})()`) {
		t.Error("the page's DPoP key is missing from IndexedDB or extractable")
	}

	// Past the access token's lifetime: a silent refresh with a proof, and
	// the new pair is bound to the same key.
	refreshed := r.hits.count("POST", "/public/refresh", http.StatusOK)
	r.clock.Advance(accessTTL + time.Second)
	b.do("refresh welcome", chromedp.Click(chromedp.CSS("#refresh-welcome")))
	b.poll("silent refresh", func() bool { return r.hits.count("POST", "/public/refresh", http.StatusOK) == refreshed+1 })
	b.do("refresh done", until(`!document.querySelector('#refresh-welcome').disabled`))
	b.waitWelcome(user)
	if next := b.accessToken(); next == stolen || cnfOf(t, next) != jkt {
		t.Errorf("after the silent refresh: a new token bound to the same key? same token %v, jkt %q want %q", next == stolen, cnfOf(t, next), jkt)
	}

	// A reload forgets the token; the cookie and the stored key restore a
	// session bound to the same key.
	b.do("reload page", chromedp.Reload())
	b.waitWelcome(user)
	b.do("still bound", until(`document.querySelector('#binding').textContent.includes('bound to this browser')`))
	if got := cnfOf(t, b.accessToken()); got != jkt {
		t.Errorf("after a reload the session is bound to %q, want the stored key's %q", got, jkt)
	}
	b.shot("dpop-02-after-reload")
	if text := b.text("#error"); text != "" {
		t.Errorf("the page showed an error: %q", text)
	}
	r.checkConsole()
}

// signUp opens the page, registers user (which logs in) and waits for the
// greeting.
func (b *tab) signUp(user string) {
	b.t.Helper()
	b.do("open the page", chromedp.Navigate(b.page), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("register "+user, chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse-battery"), chromedp.Click(chromedp.CSS("#register-btn")))
	b.waitWelcome(user)
}

// accessToken reads the page's access token out of its memory through the
// DevTools protocol: the page keeps it in a closure, not in any global, so
// this walks the scopes of one of its event handlers as a debugger does.
func (b *tab) accessToken() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	btn, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](`document.querySelector('#refresh-welcome')`, chromedp.EvalObjectGroup("stolen")))
	if err != nil {
		b.fail("find a handler", err)
	}
	ls, err := chromedp.Call(ctx, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: btn.ObjectID})
	if err != nil || len(ls.Listeners) == 0 || ls.Listeners[0].Handler == nil {
		b.fail("read the handler", fmt.Errorf("%v, %d listeners", err, len(ls.Listeners)))
	}
	props := func(id runtime.RemoteObjectID) runtime.GetPropertiesResult {
		own := true
		res, err := chromedp.Call(ctx, runtime.GetProperties, runtime.GetPropertiesParams{ObjectID: id, OwnProperties: &own})
		if err != nil {
			b.fail("read properties", err)
		}
		return res
	}
	for _, in := range props(ls.Listeners[0].Handler.ObjectID).InternalProperties {
		if in.Name != "[[Scopes]]" {
			continue
		}
		for _, scope := range props(in.Value.ObjectID).Result {
			if scope.Value == nil || scope.Value.ObjectID == "" {
				continue
			}
			for _, v := range props(scope.Value.ObjectID).Result {
				var s string
				if v.Name == "accessToken" && v.Value != nil && json.Unmarshal(v.Value.Value, &s) == nil && s != "" {
					return s
				}
			}
		}
	}
	b.fail("find the access token", io.EOF)
	return ""
}

func (b *tab) evalAsync(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(expr, err)
	}
	return v
}

// cnfOf is a token's cnf.jkt, "" when it has none.
func cnfOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf struct{ JKT string } `json:"cnf"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Cnf.JKT
}

// call is GET /user/welcome from Go with authorization and, unless empty, a
// DPoP proof: its status and challenge.
func call(ctx context.Context, t *testing.T, api, authorization, proof string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/user/welcome", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("WWW-Authenticate")
}

// TestDemoPageDPoPNonce: with DPOP_NONCE=on the page learns the server's
// nonce from the 400 use_dpop_nonce of its first login, and after a reload
// from that of its silent refresh, and retries once with it: the person
// sees nothing of it.
func TestDemoPageDPoPNonce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRig(ctx, t, true, "DPOP_NONCE", "on")
	b := r.firstTab()
	r.console.expect(http.StatusBadRequest, "/public/login")
	b.signUp("erin")
	b.waitSessions(1)
	if r.hits.count("POST", "/public/login", http.StatusBadRequest) != 1 || r.hits.count("POST", "/public/login", http.StatusOK) != 1 {
		t.Errorf("login: want one 400 use_dpop_nonce, then one 200: %v", r.hits.all())
	}
	if cnfOf(t, b.accessToken()) == "" {
		t.Error("the pair is not bound")
	}
	r.console.expect(http.StatusBadRequest, "/public/refresh")
	b.do("reload page", chromedp.Reload())
	b.waitWelcome("erin")
	b.do("still bound", until(`document.querySelector('#binding').textContent.includes('bound to this browser')`))
	if r.hits.count("POST", "/public/refresh", http.StatusBadRequest) != 1 || r.hits.count("GET", "/user/welcome", http.StatusUnauthorized) != 0 {
		t.Errorf("reload: want one 400 use_dpop_nonce on refresh and no 401: %v", r.hits.all())
	}
	r.checkConsole()
}
