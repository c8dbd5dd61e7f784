package routers_test

import (
	"strings"
	"testing"

	"go-jwt/test/testkit"
)

func TestMetrics(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"LOGIN_USER_BURST": "2"})
	p := h.login()
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 200, "")
	np := decodePair(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}))
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(p.AccessToken)}), 401, "invalid_token")
	expect(t, h.do(req{method: "GET", path: "/user/welcome", header: bearer(np.RefreshToken)}), 401, "invalid_token")
	expect(t, h.do(req{method: "GET", path: "/public/refresh", header: bearer(p.RefreshToken)}), 401, "invalid_token")
	expect(t, h.do(req{method: "DELETE", path: "/user/sessions/0b5e6a1e-35a4-4c55-9c6c-1e7b1c1e2f00", header: bearer(h.login().AccessToken)}), 404, "not_found")
	for range 2 {
		expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=bad"}), 401, "invalid_credentials")
	}
	expect(t, h.do(req{method: "POST", path: "/public/login", ctype: form, body: "username=" + h.user + "&password=bad"}), 429, "rate_limited")

	w := h.do(req{method: "GET", path: "/metrics"})
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	text := w.Body.String()
	for _, line := range []string{
		`http_requests_total{method="GET",route="/user/welcome",status="200"} 1`,
		`http_requests_total{method="GET",route="/user/welcome",status="401"} 2`,
		`http_requests_total{method="DELETE",route="/user/sessions/:id",status="404"} 1`,
		`http_request_duration_seconds_count{method="POST",route="/public/login",status="200"} 2`,
		`jwt_tokens_total{event="issued"} 2`,
		`jwt_tokens_total{event="refreshed"} 1`,
		`jwt_tokens_rejected_total{reason="revoked"} 1`,
		`jwt_tokens_rejected_total{reason="wrong_type"} 1`,
		`jwt_tokens_rejected_total{reason="reuse_detected"} 1`,
		`jwt_sessions_revoked_total{by="reuse"} 1`,
		`jwt_login_failures_total 2`,
		`jwt_rate_limited_total 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(text, "0b5e6a1e") {
		t.Error("a raw path (session id) became a label")
	}
}

func TestMetricsCanMoveOffTheMainAddress(t *testing.T) {
	h := newHarness(t, testkit.Backends(t)[0], map[string]string{"METRICS_ADDR": "127.0.0.1:0"})
	expect(t, h.do(req{method: "GET", path: "/metrics"}), 404, "not_found")
}
