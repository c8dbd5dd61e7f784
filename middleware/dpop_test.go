package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/middleware"
	"go-jwt/test/testkit"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

type countRejects map[string]int

func (r countRejects) DPoPRejected(reason string) { r[reason]++ }

// TestCheckForwarded is the DPoP check a forward-auth endpoint makes
// (/auth/verify): the proof is for the request the trusted proxy asks
// about, named by X-Forwarded-Method and -Uri, and those headers count from
// a trusted proxy only.
func TestCheckForwarded(t *testing.T) {
	gin.SetMode(gin.TestMode)
	clock := testkit.NewClock()
	rdb := testkit.Backends(t)[0].Client
	codec := utils.NewJWT([]byte("forward-secret-forward-secret-fo"), "jwt-demo", 15*time.Minute, time.Hour, 2*time.Hour, clock.Now)
	sessions := utils.NewSessions(t.Context(), rdb, 10, 0, 720*time.Hour, clock.Now)
	origin, err := dpop.NewOrigin("", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	rejects := countRejects{}
	d := &middleware.DPoP{Mode: dpop.Optional, Proofs: dpop.NewVerifier(time.Minute, nil, clock.Now),
		Replays: dpop.NewReplays(rdb, time.Minute), Access: sessions, Origin: origin, Events: rejects}
	r := gin.New()
	r.GET("/auth/verify", func(c *gin.Context) {
		tok, _ := middleware.DPoPToken(c.GetHeader("Authorization"))
		claims, err := codec.Parse(tok, global.TokenAccess)
		if err == nil {
			err = d.CheckForwarded(c, claims, tok)
		}
		if err != nil {
			d.Refuse(c, err)
			return
		}
		c.Status(http.StatusOK)
	})

	client, err := dpop.NewClient(testkit.Signer(t, "ES256"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := codec.IssueBound("kesa", uuid.NewString(), clock.Now(), client.JKT(), nil)
	if err != nil {
		t.Fatal(err)
	}
	users := utils.NewUsers(rdb, []string{"user"})
	if err := users.Create(context.Background(), "kesa", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", []string{"user"}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	acct, err := users.Account(context.Background(), "kesa")
	if err != nil {
		t.Fatal(err)
	}
	if err := sessions.Create(context.Background(), &pair, utils.Client{}, acct.Version); err != nil {
		t.Fatal(err)
	}
	ask := func(peer, method, target string, forwarded bool) *httptest.ResponseRecorder {
		proof, err := client.Proof(method, target, pair.Access, "")
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/auth/verify", nil)
		req.RemoteAddr = peer + ":4000"
		req.Header.Set("Authorization", "DPoP "+pair.Access)
		req.Header.Set("DPoP", proof)
		if forwarded {
			req.Header.Set("X-Forwarded-Method", "POST")
			req.Header.Set("X-Forwarded-Uri", "/orders?id=7")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "shop.example.com")
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	if w := ask("127.0.0.1", "POST", "https://shop.example.com/orders", true); w.Code != http.StatusOK {
		t.Fatalf("the proxied request's proof: %d %s", w.Code, w.Body)
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"proof for /auth/verify itself":  ask("127.0.0.1", "POST", "http://example.com/auth/verify", true),
		"proof for another method":       ask("127.0.0.1", "GET", "https://shop.example.com/orders", true),
		"headers from an untrusted peer": ask("198.51.100.9", "POST", "https://shop.example.com/orders", true),
		"no forwarded request named":     ask("127.0.0.1", "POST", "https://shop.example.com/orders", false),
	} {
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "invalid_dpop_proof") ||
			!strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
			t.Errorf("%s: %d %s %q, want 401 invalid_dpop_proof", name, w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
		}
	}
	if rejects["not_forwarded"] != 2 || rejects["bad_htu"] != 1 || rejects["bad_htm"] != 1 {
		t.Errorf("rejections counted %v", rejects)
	}
}
