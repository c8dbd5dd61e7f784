package routers_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go-jwt/test/testkit"
)

func (h *harness) register(name, password string) int {
	h.t.Helper()
	return h.do(req{method: "POST", path: "/public/register", ctype: "application/json",
		body: `{"username":"` + name + `","password":"` + password + `"}`}).Code
}

func (h *harness) loginAs(name, password string) pair {
	h.t.Helper()
	return decodePair(h.t, h.do(req{method: "POST", path: "/public/login", ctype: form,
		body: "username=" + name + "&password=" + password}))
}

func TestRegisterValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		name := testkit.Name(t)
		tests := []struct {
			name    string
			r       req
			status  int
			message string
		}{
			{"JSON", req{body: `{"username":"` + name + `","password":"long enough"}`, ctype: "application/json"}, 201, ""},
			{"form", req{body: "username=" + name + "f&password=long+enough", ctype: form}, 201, ""},
			{"taken", req{body: `{"username":"` + name + `","password":"long enough"}`, ctype: "application/json"}, 409, "username already taken"},
			{"taken in another case", req{body: `{"username":"` + strings.ToUpper(name) + `","password":"long enough"}`, ctype: "application/json"}, 409, "username already taken"},
			{"username too short", req{body: "username=ab&password=long+enough", ctype: form}, 400, "username must be 3 to 64 characters"},
			{"username too long", req{body: "username=" + strings.Repeat("a", 65) + "&password=long+enough", ctype: form}, 400, "username must be 3 to 64 characters"},
			{"username with a space", req{body: "username=a+b+c&password=long+enough", ctype: form}, 400, "username may hold only letters, digits"},
			{"username with a brace", req{body: "username=ab%7Bc&password=long+enough", ctype: form}, 400, "username may hold only letters, digits"},
			{"password too short", req{body: "username=" + name + "x&password=1234567", ctype: form}, 400, "password must be 8 to 128 characters"},
			{"password too long", req{body: "username=" + name + "x&password=" + strings.Repeat("p", 129), ctype: form}, 400, "password must be 8 to 128 characters"},
			{"missing password", req{body: "username=" + name + "x", ctype: form}, 400, "password is required"},
			{"missing username", req{body: "password=long+enough", ctype: form}, 400, "username is required"},
			{"bad JSON", req{body: `{"username":`, ctype: "application/json"}, 400, "body is not a JSON object"},
			{"unsupported type", req{body: "x", ctype: "text/plain"}, 415, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.r.method, tt.r.path = "POST", "/public/register"
				w := h.do(tt.r)
				if w.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
				}
				if tt.status == 201 {
					var body struct{ Username string }
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.HasPrefix(body.Username, name) {
						t.Fatalf("body %s", w.Body)
					}
					return
				}
				if !strings.Contains(w.Body.String(), tt.message) {
					t.Fatalf("body %s, want message %q", w.Body, tt.message)
				}
			})
		}
		// The registered user logs in under any case of the name.
		h.loginAs(strings.ToUpper(name), "long+enough")
	})
}

func TestRegistrationOff(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"REGISTRATION": "off"})
	expect(t, h.do(req{method: "POST", path: "/public/register", ctype: form, body: "username=someone&password=long+enough"}), 404, "not_found")
}

func TestConcurrentRegistrationHasOneWinner(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		name := testkit.Name(t)
		codes := make([]int, 20)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() { codes[i] = h.register(name, "password-"+strconv.Itoa(i)) })
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			switch c {
			case 201:
				created++
			case 409:
			default:
				t.Fatalf("status %d", c)
			}
		}
		if created != 1 {
			t.Fatalf("%d registrations of one name succeeded, want 1", created)
		}
	})
}

func TestLoginRateLimits(t *testing.T) {
	env := map[string]string{"LOGIN_USER_RATE": "5", "LOGIN_USER_BURST": "3", "LOGIN_IP_RATE": "5", "LOGIN_IP_BURST": "6"}
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		t.Run("per user: the N+1st failure is 429 before any hashing", func(t *testing.T) {
			h := newHarness(t, b, env)
			for i := range 3 {
				w := h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=wrong", header: map[string]string{"X-Forwarded-For": "10.0.0." + strconv.Itoa(i)}})
				expect(t, w, 401, "invalid_credentials")
			}
			// Even the right password is refused now: the budget is checked first.
			w := h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=123"})
			expect(t, w, 429, "rate_limited")
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
			}
			if !strings.Contains(h.log.String(), "rate limited") {
				t.Fatal("rate limiting is not logged as a security event")
			}
		})
		t.Run("per IP: spoofed X-Forwarded-For does not help", func(t *testing.T) {
			h := newHarness(t, b, env)
			var last int
			for i := range 7 { // a new username and a new forged IP each time
				last = h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=victim" + strconv.Itoa(i) + "&password=x",
					header: map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i), "X-Real-IP": "203.0.113." + strconv.Itoa(i)}}).Code
			}
			if last != http.StatusTooManyRequests {
				t.Fatalf("7th failure from one peer: %d, want 429", last)
			}
		})
		t.Run("per IP: a trusted proxy's X-Forwarded-For is believed", func(t *testing.T) {
			h, _ := proxiedHarness(t, b, env)
			for i := range 7 {
				w := h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=victim" + strconv.Itoa(i) + "&password=x",
					header: map[string]string{"X-Forwarded-For": "198.51.100." + strconv.Itoa(i)}})
				expect(t, w, 401, "invalid_credentials")
			}
		})
		t.Run("a success does not restore the IP budget", func(t *testing.T) {
			h := newHarness(t, b, env)
			for i := range 5 {
				expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=other" + strconv.Itoa(i) + "&password=x"}), 401, "invalid_credentials")
			}
			h.login()
			expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=other9&password=x"}), 401, "invalid_credentials")
			expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=other9&password=x"}), 429, "rate_limited")
		})
	})
	t.Run("the budget returns after the window", func(t *testing.T) {
		b := testkit.Backends(t)[0] // miniredis: its clock can be set
		b.Mini.SetTime(time.Now())
		h := newHarness(t, b, env)
		for range 3 {
			h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=wrong"})
		}
		expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=123"}), 429, "rate_limited")
		b.Mini.SetTime(time.Now().Add(13 * time.Second)) // one failure frees every 12 s at 5 a minute
		h.login()
	})
}

func TestSessionManagement(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		a := h.login()
		h.clock.Advance(time.Second)
		bb := h.login()

		t.Run("list is newest first with the caller's marked", func(t *testing.T) {
			w := h.do(req{method: "GET", path: "/user/sessions", header: bearer(a.AccessToken)})
			var body struct {
				Sessions []struct {
					ID, IP, UserAgent      string
					CreatedAt, RefreshedAt time.Time
					Current                bool
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			s := body.Sessions
			if len(s) != 2 || s[0].Current || !s[1].Current || !s[0].CreatedAt.After(s[1].CreatedAt) || s[1].IP == "" {
				t.Fatalf("sessions %+v", s)
			}
			for _, k := range []string{`"id"`, `"createdAt"`, `"refreshedAt"`, `"ip"`, `"userAgent"`, `"current"`} {
				if !strings.Contains(w.Body.String(), k) {
					t.Fatalf("field %s missing: %s", k, w.Body)
				}
			}
		})
		t.Run("me", func(t *testing.T) {
			w := h.do(req{method: "GET", path: "/user/me", header: bearer(a.AccessToken)})
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"username":"`+h.user+`"`) || !strings.Contains(w.Body.String(), `"current":true`) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
		t.Run("another user's session is not found", func(t *testing.T) {
			o := newHarness(t, b, nil)
			op := o.login()
			sid := sessionID(t, o, op)
			expect(t, h.do(req{method: "DELETE", path: "/user/sessions/" + sid, header: bearer(a.AccessToken)}), 404, "not_found")
			expect(t, o.do(req{method: "GET", path: "/user/welcome", header: bearer(op.AccessToken)}), 200, "Welcome ! "+o.user)
			expect(t, h.do(req{method: "DELETE", path: "/user/sessions/not-a-uuid", header: bearer(a.AccessToken)}), 404, "not_found")
		})
		t.Run("revoke one", func(t *testing.T) {
			sid := sessionID(t, h, bb)
			w := h.do(req{method: "DELETE", path: "/user/sessions/" + sid, header: bearer(a.AccessToken)})
			if w.Code != http.StatusNoContent {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(bb.AccessToken)}), 401, "invalid_token")
			expect(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(bb.RefreshToken)}), 401, "invalid_token")
			expect(t, h.do(req{method: "DELETE", path: "/user/sessions/" + sid, header: bearer(a.AccessToken)}), 404, "not_found")
		})
		t.Run("logout-all revokes every session, this one too", func(t *testing.T) {
			h.login()
			w := h.do(req{method: "POST", path: "/user/logout-all", header: bearer(a.AccessToken)})
			if w.Code != 200 || w.Body.String() != `{"revoked":2}` {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(a.AccessToken)}), 401, "invalid_token")
		})
	})
}

func sessionID(t *testing.T, h *harness, p pair) string {
	t.Helper()
	w := h.do(req{method: "GET", path: "/user/me", header: bearer(p.AccessToken)})
	var me struct{ Session struct{ ID string } }
	if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil || me.Session.ID == "" {
		t.Fatalf("me: %d %s", w.Code, w.Body)
	}
	return me.Session.ID
}

func TestPasswordChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b testkit.Backend) {
		h := newHarness(t, b, nil)
		cur, other := h.login(), h.login()
		change := func(old, nw string) int {
			w := h.do(req{method: "POST", path: "/user/password", header: bearer(cur.AccessToken), ctype: "application/json",
				body: `{"oldPassword":"` + old + `","newPassword":"` + nw + `"}`})
			return w.Code
		}
		if c := change("wrong", "new password!"); c != http.StatusForbidden {
			t.Fatalf("wrong old password: %d", c)
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(cur.AccessToken)}), 200, "Welcome ! "+h.user)
		if c := change("123", "short"); c != http.StatusBadRequest {
			t.Fatalf("short new password: %d", c)
		}
		if c := change("123", "new password!"); c != http.StatusNoContent {
			t.Fatalf("change: %d", c)
		}
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(cur.AccessToken)}), 200, "Welcome ! "+h.user)
		expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(other.AccessToken)}), 401, "invalid_token")
		expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=123"}), 401, "invalid_credentials")
		h.loginAs(h.user, "new+password!")
		// The wrong-old-password answer is 403 invalid_credentials.
		w := h.do(req{method: "POST", path: "/user/password", header: bearer(cur.AccessToken), ctype: form, body: "oldPassword=nope&newPassword=whatever123"})
		expect(t, w, 403, "invalid_credentials")
	})
}

func TestRehashOnLogin(t *testing.T) {
	b := testkit.Backends(t)[0]
	h := newHarness(t, b, nil)
	key := "u:{" + h.user + "}"
	before := b.Mini.HGet(key, "h")
	stronger := newHarness(t, b, map[string]string{"DEMO_USER": h.user + ":123", "ARGON2_MEMORY_KIB": "2048"})
	stronger.login()
	after := b.Mini.HGet(key, "h")
	if before == after || !strings.Contains(after, "m=2048") {
		t.Fatalf("hash not upgraded: %q → %q", before, after)
	}
	stronger.login() // and the new hash works
}
