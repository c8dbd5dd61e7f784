package scale

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// TestTwoInstancesShareRevocation runs two service processes on one Redis
// with one JWT_SECRET, as behind a load balancer: what one instance revokes,
// the other refuses on the very next request (no cache on either side).
func TestTwoInstancesShareRevocation(t *testing.T) {
	r := startRedis(t, "redis", "", "--save", "", "--appendonly", "no")
	vars := serviceEnv(t, proc.RandomHex(t, 32))
	vars["REDIS_ADDR"] = r.Addr
	a := startService(t, "instance-a", vars)
	b := startService(t, "instance-b", vars) // same demo user: created once, found by the second

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := newClient(t, ctx)

	t.Run("logout on A rejects the token on B at once", func(t *testing.T) {
		c := &client{t: t, ctx: ctx, c: c.c}
		p := c.login(a, a.user, a.pass)
		c.welcome(b, p.Access, http.StatusOK)
		c.do(http.StatusOK, http.MethodPost, a.base+"/user/logout", p.Access, nil)
		c.welcome(b, p.Access, http.StatusUnauthorized)
		c.do(http.StatusUnauthorized, http.MethodPost, b.base+"/public/refresh", p.Refresh, nil)
	})
	t.Run("refresh on B retires the old access token on A", func(t *testing.T) {
		c := &client{t: t, ctx: ctx, c: c.c}
		p := c.login(a, a.user, a.pass)
		c.welcome(a, p.Access, http.StatusOK)
		next := c.refresh(b, p)
		c.welcome(a, p.Access, http.StatusUnauthorized)
		c.welcome(a, next.Access, http.StatusOK)
		// The old refresh token presented to A is reuse: the session ends
		// on both instances.
		c.do(http.StatusUnauthorized, http.MethodPost, a.base+"/public/refresh", p.Refresh, nil)
		c.welcome(b, next.Access, http.StatusUnauthorized)
	})
	t.Run("logout-all on B ends the sessions opened on A", func(t *testing.T) {
		c := &client{t: t, ctx: ctx, c: c.c}
		p1 := c.login(a, a.user, a.pass)
		p2 := c.login(b, b.user, b.pass)
		if ids := c.sessions(a, p1.Access); len(ids) < 2 {
			t.Fatalf("A lists %d sessions, want the ones of both instances", len(ids))
		}
		c.do(http.StatusOK, http.MethodPost, b.base+"/user/logout-all", p2.Access, nil)
		c.welcome(a, p1.Access, http.StatusUnauthorized)
		c.welcome(b, p2.Access, http.StatusUnauthorized)
	})
}
