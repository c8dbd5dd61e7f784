package routers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"go-jwt/test/testkit"
)

// welcomeStatus is the status of GET /user/welcome with an access token.
func (h *harness) welcomeStatus(access string) int {
	h.t.Helper()
	return h.do(req{method: "GET", path: "/user/welcome", header: bearer(access)}).Code
}

func (h *harness) refresh(p pair) (pair, int) {
	h.t.Helper()
	w := h.do(req{method: "POST", path: "/public/refresh", header: bearer(p.RefreshToken)})
	if w.Code != 200 {
		return pair{}, w.Code
	}
	return decodePair(h.t, w), 200
}

// TestRoleChangeTakesEffectAtTheNextRequest: the user's access tokens
// issued before the change get 401 at once; the refresh tokens issued
// before it keep working and bring the new roles.
func TestRoleChangeTakesEffectAtTheNextRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, tok := adminHarness(t, b, nil)
		bob := h.newUser()
		laptop, phone := h.loginAs(bob, "long+enough"), h.loginAs(bob, "long+enough")
		expect(t, h.do(req{method: "GET", path: "/admin/users", header: bearer(laptop.AccessToken)}), 403, "forbidden")

		expect(t, h.adminDo(tok, "PUT", "/admin/users/"+bob+"/roles", `{"roles":["admin","user"]}`), 200, "")
		for _, p := range []pair{laptop, phone} {
			if got := h.welcomeStatus(p.AccessToken); got != 401 {
				t.Fatalf("an access token issued before the role change: %d, want 401", got)
			}
		}
		next, code := h.refresh(laptop)
		if code != 200 || !slices.Equal(rolesOf(t, next.AccessToken), []string{"admin", "user"}) {
			t.Fatalf("refresh after the role change: %d, roles %v", code, rolesOf(t, next.AccessToken))
		}
		expect(t, h.do(req{method: "GET", path: "/admin/users", header: bearer(next.AccessToken)}), 200, "")
		if _, code := h.refresh(phone); code != 200 {
			t.Fatalf("the other session's refresh token after the role change: %d", code)
		}

		// Demoted again: the admin token dies at its next request, and the
		// refreshed one is a user's.
		expect(t, h.adminDo(tok, "PUT", "/admin/users/"+bob+"/roles", `{"roles":["user"]}`), 200, "")
		expect(t, h.do(req{method: "GET", path: "/admin/users", header: bearer(next.AccessToken)}), 401, "invalid_token")
		again, _ := h.refresh(next)
		expect(t, h.do(req{method: "GET", path: "/admin/users", header: bearer(again.AccessToken)}), 403, "forbidden")
		w := h.do(req{method: "GET", path: "/user/me", header: bearer(again.AccessToken)})
		if !strings.Contains(w.Body.String(), `"roles":["user"]`) {
			t.Fatalf("/user/me after the demotion: %s", w.Body)
		}
	})
}

// TestLockTakesEffectAtTheNextRequest: every session revoked, the right
// password 403 account_locked, a wrong one still 401, unlock restores.
func TestLockTakesEffectAtTheNextRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, tok := adminHarness(t, b, nil)
		bob := h.newUser()
		p := h.loginAs(bob, "long+enough")
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+bob+"/lock", ""), 204, "")
		if got := h.welcomeStatus(p.AccessToken); got != 401 {
			t.Fatalf("access token after the lock: %d", got)
		}
		if _, code := h.refresh(p); code != 401 {
			t.Fatalf("refresh after the lock: %d", code)
		}
		login := func(pw string) req {
			return req{method: "POST", path: "/public/login", ctype: form, body: "username=" + bob + "&password=" + pw}
		}
		expect(t, h.do(login("long+enough")), 403, "account_locked")
		expect(t, h.do(login("wrong+password")), 401, "invalid_credentials")
		if u := decodeUser(t, h.adminDo(tok, "PUT", "/admin/users/"+bob+"/roles", `{"roles":["user"]}`)); !u.Locked {
			t.Fatalf("a role change unlocked: %+v", u)
		}
		expect(t, h.do(login("long+enough")), 403, "account_locked")
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+bob+"/unlock", ""), 204, "")
		decodePair(t, h.do(login("long+enough")))
		if !strings.Contains(h.log.String(), "login refused: account locked") {
			t.Fatal("a locked account's login is not logged as a security event")
		}
	})
}

// TestAdminPasswordAndDeleteRevokeEverySession.
func TestAdminPasswordAndDeleteRevokeEverySession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, tok := adminHarness(t, b, nil)
		bob := h.newUser()
		p := h.loginAs(bob, "long+enough")
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+bob+"/password", `{"newPassword":"brand new pw"}`), 204, "")
		if h.welcomeStatus(p.AccessToken) != 401 {
			t.Fatal("access token alive after the admin's password reset")
		}
		if _, code := h.refresh(p); code != 401 {
			t.Fatal("refresh token alive after the admin's password reset")
		}
		expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + bob + "&password=long+enough"}), 401, "invalid_credentials")
		p = h.loginAs(bob, "brand+new+pw")

		two := h.loginAs(bob, "brand+new+pw")
		expect(t, h.adminDo(tok, "POST", "/admin/users/"+bob+"/logout-all", ""), 200, `{"revoked":2}`)
		if h.welcomeStatus(p.AccessToken) != 401 || h.welcomeStatus(two.AccessToken) != 401 {
			t.Fatal("a session survived logout-all")
		}

		p = h.loginAs(bob, "brand+new+pw")
		expect(t, h.adminDo(tok, "DELETE", "/admin/users/"+bob, ""), 204, "")
		if h.welcomeStatus(p.AccessToken) != 401 {
			t.Fatal("access token alive after the delete")
		}
		if _, code := h.refresh(p); code != 401 {
			t.Fatal("refresh token alive after the delete")
		}
		expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + bob + "&password=brand+new+pw"}), 401, "invalid_credentials")
		if code := h.register(bob, "a new owner"); code != 201 {
			t.Fatalf("registering a deleted name again: %d", code)
		}
		if _, code := h.refresh(p); code != 401 {
			t.Fatal("the deleted account's refresh token works for the new account")
		}
		h.loginAs(bob, "a+new+owner")
	})
}

// TestAdminActionsAreLoggedAndCounted: each action is a security event
// with actor, action, target and request id, and a metric.
func TestAdminActionsAreLoggedAndCounted(t *testing.T) {
	h, tok := adminHarness(t, testkit.Backends(t)[0], nil)
	bob := h.newUser()
	w := h.do(req{method: "POST", path: "/admin/users/" + bob + "/lock", header: map[string]string{"Authorization": "Bearer " + tok, "X-Request-ID": "lock-req-1"}})
	expect(t, w, 204, "")
	expect(t, h.adminDo(tok, "POST", "/admin/users/"+bob+"/unlock", ""), 204, "")
	expect(t, h.adminDo(tok, "PUT", "/admin/users/"+bob+"/roles", `{"roles":["user"]}`), 200, "")
	want := fmt.Sprintf(`msg="admin action" actor=%s action=lock target=%s revoked=0 request_id=lock-req-1`, h.user, bob)
	if !strings.Contains(h.log.String(), want) {
		t.Fatalf("no security event %q in the log:\n%s", want, h.log)
	}
	text := h.do(req{method: "GET", path: "/metrics"}).Body.String()
	for _, line := range []string{`jwt_admin_actions_total{action="lock"} 1`, `jwt_admin_actions_total{action="unlock"} 1`, `jwt_admin_actions_total{action="roles"} 1`} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

// TestLastAdmin: removing admin from, locking or deleting the last
// unlocked admin is 409; a locked admin does not count. On a Redis of the
// test's own: the registry of admins is shared by every user.
func TestLastAdmin(t *testing.T) {
	for _, b := range testkit.ExclusiveBackends(t, 14) {
		t.Run(b.Name, func(t *testing.T) {
			if err := b.Client.FlushDB(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			h, tok := adminHarness(t, b, nil)
			self := "/admin/users/" + h.user
			expect(t, h.adminDo(tok, "PUT", self+"/roles", `{"roles":["user"]}`), 409, "conflict")
			expect(t, h.adminDo(tok, "POST", self+"/lock", ""), 409, "conflict")
			expect(t, h.adminDo(tok, "DELETE", self, ""), 409, "conflict")
			if h.welcomeStatus(tok) != 200 {
				t.Fatal("a refused change still cut the admin's token")
			}
			ann := testkit.Name(t)
			expect(t, h.adminDo(tok, "POST", "/admin/users", `{"username":"`+ann+`","password":"long enough","roles":["admin"]}`), 201, "")
			expect(t, h.adminDo(tok, "POST", "/admin/users/"+ann+"/lock", ""), 204, "")
			expect(t, h.adminDo(tok, "PUT", self+"/roles", `{"roles":["user"]}`), 409, "conflict") // a locked admin does not count
			expect(t, h.adminDo(tok, "POST", "/admin/users/"+ann+"/unlock", ""), 204, "")
			annTok := h.loginAs(ann, "long+enough").AccessToken
			expect(t, h.adminDo(tok, "PUT", self+"/roles", `{"roles":["user"]}`), 200, "")
			expect(t, h.adminDo(annTok, "DELETE", "/admin/users/"+ann, ""), 409, "conflict")
			if !strings.Contains(h.log.String(), "admin action refused") {
				t.Fatal("a refused last-admin change is not logged")
			}

			// Race: the only two admins each step down at the same moment;
			// exactly one may.
			for range 10 {
				a, c := testkit.Name(t), testkit.Name(t)
				tokens := map[string]string{}
				for _, n := range []string{a, c} {
					expect(t, h.adminDo(annTok, "POST", "/admin/users", `{"username":"`+n+`","password":"long enough","roles":["admin"]}`), 201, "")
					tokens[n] = h.loginAs(n, "long+enough").AccessToken
				}
				expect(t, h.adminDo(tokens[a], "DELETE", "/admin/users/"+ann, ""), 204, "") // a and c are the only admins
				codes := make([]int, 2)
				var wg sync.WaitGroup
				for i, n := range []string{a, c} {
					wg.Go(func() {
						codes[i] = h.adminDo(tokens[n], "PUT", "/admin/users/"+n+"/roles", `{"roles":["user"]}`).Code
					})
				}
				wg.Wait()
				slices.Sort(codes)
				if !slices.Equal(codes, []int{200, 409}) {
					t.Fatalf("the last two admins stepping down at once: %v, want one 200 and one 409", codes)
				}
				admins := 0
				for _, n := range []string{a, c} {
					if acct, err := h.accounts.Get(t.Context(), n); err == nil && slices.Contains(acct.Roles, "admin") {
						admins++
						ann, annTok = n, h.loginAs(n, "long+enough").AccessToken
					}
				}
				if admins != 1 {
					t.Fatalf("%d admins left, want 1", admins)
				}
			}
		})
	}
}

// TestUserListing pages 250 users with limit 7: each exactly once, in
// name order, every page at most 7, the last with an empty cursor; also on
// a Redis Cluster, where the users live on different nodes.
func TestUserListing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h, tok := adminHarness(t, b, nil)
		prefix := testkit.Name(t) + "-"
		mine := map[string]int{}
		hash := "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5"
		for i := range 250 {
			name := fmt.Sprintf("%s%03d", prefix, i)
			if _, err := h.accounts.Create(t.Context(), name, hash, nil); err != nil {
				t.Fatal(err)
			}
			mine[name] = 0
		}
		seen, cursor, pages := map[string]bool{}, "", 0
		for {
			pages++
			if pages > 5000 {
				t.Fatal("more than 5000 pages: the cursor does not advance")
			}
			w := h.adminDo(tok, "GET", "/admin/users?limit=7&cursor="+cursor, "")
			expect(t, w, 200, "")
			var page struct {
				Users      []adminUser
				NextCursor string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page.Users) > 7 {
				t.Fatalf("page %d: %s", pages, w.Body)
			}
			for _, u := range page.Users {
				if seen[u.Username] || u.Username <= cursor && cursor != "" {
					t.Fatalf("%s listed twice or out of order (cursor %q)", u.Username, cursor)
				}
				seen[u.Username] = true
				if _, ok := mine[u.Username]; ok {
					mine[u.Username]++
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		for name, n := range mine {
			if n != 1 {
				t.Fatalf("%s listed %d times, want once", name, n)
			}
		}
		if !seen[h.user] {
			t.Fatal("the admin is not listed")
		}
		for _, q := range []string{"limit=0", "limit=201", "limit=-1", "limit=abc", "limit=7.5", "cursor=a%7Bb", "cursor=UPPER"} {
			expect(t, h.adminDo(tok, "GET", "/admin/users?"+q, ""), 400, "invalid_request")
		}
		expect(t, h.adminDo(tok, "GET", "/admin/users?limit=200", ""), 200, "")
	})
}
