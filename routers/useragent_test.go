package routers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

// A browser's refresh: the new refresh token (not the access token) names
// the User-Agent whose text the rotation stored (uah), so the next refresh
// from that browser need not store it again; that refresh works, and the
// session still lists the User-Agent.
func TestRefreshNamesTheUserAgentItStored(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, map[string]string{"DEMO_USER": "kesa:123"})
		ua := "Mozilla/5.0 (X11; Linux x86_64) test browser"
		withUA := func(tok string) map[string]string {
			return map[string]string{"Authorization": "Bearer " + tok, "User-Agent": ua}
		}
		p := decodePair(t, h.do(req{method: "POST", path: "/public/login", body: "username=kesa&password=123", ctype: form,
			header: map[string]string{"User-Agent": ua}}))
		if _, ok := payload(t, p.RefreshToken)["uah"]; ok {
			t.Fatal("a login's refresh token names a User-Agent: it is signed before the session stores one")
		}
		np := decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: withUA(p.RefreshToken)}))
		sum := sha256.Sum256([]byte(ua))
		if got := payload(t, np.RefreshToken)["uah"]; got != hex.EncodeToString(sum[:8]) {
			t.Fatalf("refresh token uah %v, want %s", got, hex.EncodeToString(sum[:8]))
		}
		if got, ok := payload(t, np.AccessToken)["uah"]; ok {
			t.Fatalf("access token uah %v: only the refresh token carries it", got)
		}
		last := decodePair(t, h.do(req{method: "POST", path: "/public/refresh", header: withUA(np.RefreshToken)}))
		w := h.do(req{method: "GET", path: "/user/sessions", header: bearer(last.AccessToken)})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"userAgent":"`+ua+`"`) {
			t.Fatalf("sessions %d %s, want the User-Agent listed", w.Code, w.Body)
		}
	})
}
