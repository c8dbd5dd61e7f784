package routers_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/testkit"
)

// BenchmarkWelcomeDPoP is the CPU and latency of one request through the
// production router, one at a time: ping, welcome with a Bearer token, and
// welcome with a DPoP-bound token and a fresh proof (signed before the
// clock starts), ES256 and EdDSA. On real Redis with REDIS_TEST_ADDR set.
// Besides wall time it reports cpu-ns/op, the process's CPU time per
// request, which a machine shared with other work inflates less.
//
//	go test -run '^$' -bench WelcomeDPoP -benchtime 2000x ./routers/
func BenchmarkWelcomeDPoP(b *testing.B) {
	backends := testkit.Backends(b)
	h := newHarness(b, backends[len(backends)-1], nil)
	b.Run("ping", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if w := h.do(req{method: "GET", path: "/public/ping"}); w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
	bearerToken := h.login().AccessToken
	b.Run("bearer", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if w := h.do(req{method: "GET", path: "/user/welcome", header: bearer(bearerToken)}); w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
	for _, alg := range []string{"ES256", "EdDSA"} {
		key := newProver(b, h, alg)
		tok := h.boundPair(key).AccessToken
		b.Run("dpop-"+alg, func(b *testing.B) {
			headers := make([]map[string]string, b.N)
			for i := range headers {
				headers[i] = withDPoP(tok, key.proof("GET", "/user/welcome", tok, ""))
			}
			b.ResetTimer()
			defer cpuPerOp(b)()
			for i := range b.N {
				if w := h.do(req{method: "GET", path: "/user/welcome", header: headers[i]}); w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body)
				}
			}
		})
	}
}

// cpuPerOp starts counting the process's CPU time; the func it returns
// reports it per op of b.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime(b)
	return func() { b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op") }
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
