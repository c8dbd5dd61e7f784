package browser

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"go-jwt/initialize"
	"go-jwt/metrics"
	"go-jwt/test/testkit"
	"go-jwt/utils/accounts"
	"go-jwt/web"
)

// accessTTL is the access token lifetime of the service under test; the
// test moves the service's clock past it to make the page refresh.
const accessTTL = 2 * time.Second

// rig is one run: the service, the page's server and the browser.
type rig struct {
	t     *testing.T
	api   string // the service's base URL
	page  string // the page's URL, on another origin, pointed at api
	clock *testkit.Clock
	redis *miniredis.Miniredis
	hits  *hitLog
	log   *testkit.SyncBuffer // the service's log
	shots string              // screenshot folder, kept after the test
	// accounts is the service's account store, as the operator command
	// line builds it: the test makes its admin with it.
	accounts *accounts.Store

	console *consoleLog
	browser context.Context // the first tab; it owns the browser
}

// newRig starts the service on one loopback port and the page on another,
// and a headless Chromium with a fresh profile. With sameOrigin, the
// service serves the page itself (DEMO_PAGE=on) and no CORS is configured.
// Everything stops when ctx ends or the test does. extraEnv are more
// settings of the service, as name, value pairs.
func newRig(ctx context.Context, t *testing.T, sameOrigin bool, extraEnv ...string) *rig {
	env := map[string]string{}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	return newRigWith(ctx, t, rigOptions{sameOrigin: sameOrigin, env: env})
}

// rigOptions shape a rig: sameOrigin as for newRig; host names the
// loopback listeners in URLs (default 127.0.0.1; passkeys need localhost,
// their RP ID and a secure context over plain http); passkeys sets
// WEBAUTHN_RP_ID to host and WEBAUTHN_ORIGINS to the page's origin, port
// included; env is added to the service's environment, after the rig's own.
type rigOptions struct {
	sameOrigin bool
	host       string
	passkeys   bool
	env        map[string]string
}

// newRigWith is newRig with options.
func newRigWith(ctx context.Context, t *testing.T, o rigOptions) *rig {
	t.Helper()
	gin.SetMode(gin.TestMode)
	chrome := chromium(t)
	pageLn, apiLn := listen(t), listen(t)
	url := func(ln net.Listener) string {
		if o.host == "" {
			return "http://" + ln.Addr().String()
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		return "http://" + net.JoinHostPort(o.host, port)
	}
	r := &rig{
		t:     t,
		api:   url(apiLn),
		clock: testkit.NewClock(),
		hits:  &hitLog{},
		log:   &testkit.SyncBuffer{},
	}
	pageOrigin := url(pageLn)
	r.page = pageOrigin + "/?api=" + r.api
	cors, demoPage := pageOrigin, "off"
	if o.sameOrigin {
		r.page, cors, demoPage = r.api+"/", "", "on"
	}

	// The service: the production router on miniredis, with a clock the test
	// moves instead of sleeping past the access token's lifetime.
	// REFRESH_COOKIE is left to its default (on outside release mode, SPEC
	// §3): the reloads below prove that the page of a plain `go run .`
	// keeps its session.
	env := map[string]string{
		"JWT_SECRET":        "browser-test-secret-browser-test-secret",
		"ACCESS_TTL":        accessTTL.String(),
		"CORS_ORIGINS":      cors,
		"DEMO_USER":         "off",
		"DEMO_PAGE":         demoPage,
		"ARGON2_MEMORY_KIB": "1024",
		"ARGON2_TIME":       "1",
		"LOGIN_USER_RATE":   "1", // one failure a minute: the second is a 429
		"LOGIN_USER_BURST":  "1",
	}
	if o.passkeys {
		origin := pageOrigin
		if o.sameOrigin {
			origin = r.api
		}
		env["WEBAUTHN_RP_ID"], env["WEBAUTHN_ORIGINS"] = o.host, origin
	}
	for k, v := range o.env {
		env[k] = v
	}
	cfg, err := initialize.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	backend := testkit.Backends(t)[0]
	r.redis = backend.Mini
	log := slog.New(slog.NewTextHandler(r.log, nil))
	router, err := initialize.Router(ctx, cfg, backend.Client, log, metrics.New(), r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, r.accounts, _, err = initialize.Accounts(ctx, cfg, backend.Client, log, r.clock.Now, nil); err != nil {
		t.Fatal(err)
	}
	serve(t, apiLn, r.hits.wrap(router))
	serve(t, pageLn, http.FileServer(http.FS(web.FS)))

	if r.shots, err = os.MkdirTemp("", "go-jwt-screenshots-"); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", r.shots)

	// The browser: a fresh profile, and every console error, uncaught
	// exception and browser log error recorded.
	profile, err := os.MkdirTemp("", "go-jwt-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 800),
	)...)
	r.console = &consoleLog{api: r.api}
	first, cancelFirst := chromedp.NewContext(allocCtx, chromedp.WithListener(r.console.listen))
	t.Cleanup(func() {
		cancelFirst()
		cancelAlloc() // waits for the browser to exit
		_ = os.RemoveAll(profile)
	})
	// The first call starts the browser, which lives as long as that call's
	// context: the tab's, not a step's shorter one.
	if err := chromedp.Do(first); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	r.browser = first
	return r
}

func (r *rig) firstTab() *tab { return &tab{rig: r, ctx: r.browser} }

// newTab opens another tab of the same browser (same cookies), its console
// watched like the first one's.
func (r *rig) newTab() (*tab, context.CancelFunc) {
	r.t.Helper()
	ctx, cancel := chromedp.NewContext(r.browser, chromedp.WithListener(r.console.listen))
	if err := chromedp.Do(ctx); err != nil { // the tab lives as long as this call's context
		r.t.Fatalf("open a tab: %v", err)
	}
	return &tab{rig: r, ctx: ctx}, cancel
}

// checkConsole fails the test for anything the browser reported as an
// error: console errors, uncaught exceptions, and browser log errors other
// than the expected 401s of the silent-refresh path and the error answers
// the test provoked on purpose.
func (r *rig) checkConsole() {
	r.t.Helper()
	errs, ignored := r.console.result()
	for _, e := range ignored {
		r.t.Logf("ignored (an expected error answer): %s", e)
	}
	for _, e := range errs {
		r.t.Errorf("browser console: %s", e)
	}
	if len(ignored) == 0 {
		r.t.Error("the console listener saw not even the expected 401s: the console check is not running")
	}
	if r.t.Failed() {
		r.t.Logf("API requests: %v\nservice log:\n%s", r.hits.all(), r.log.String())
	}
}
