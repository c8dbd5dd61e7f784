package initialize

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go-jwt/global"
	"go-jwt/metrics"
)

// A CPU profile or a trace is one request that lasts as long as it was
// asked to: the pprof listener lets it outlast go tool pprof's default
// 30 s (with room to spare), where every other listener ends a request
// after serverLimits.active, and it keeps their header and idle limits.
func TestPprofListenerOutlastsADefaultProfile(t *testing.T) {
	const metricsAddr, pprofAddr = "127.0.0.1:9100", "127.0.0.1:6060"
	side := sideListeners(global.Config{MetricsAddr: metricsAddr, PprofAddr: pprofAddr}, metrics.New())
	if len(side) != 2 {
		t.Fatalf("%d side listeners, want metrics and pprof", len(side))
	}
	p, m := side[pprofAddr], side[metricsAddr]
	if p.limits.active < 2*30*time.Second {
		t.Errorf("pprof's requests end after %v: go tool pprof's default 30 s profile would be cut", p.limits.active)
	}
	if p.limits.header != serverLimits.header || p.limits.idle != serverLimits.idle || p.limits.tick != serverLimits.tick {
		t.Errorf("pprof's limits %+v, want the header, idle and tick of %+v", p.limits, serverLimits)
	}
	if m.limits != serverLimits {
		t.Errorf("metrics' limits %+v, want %+v", m.limits, serverLimits)
	}
	for addr, want := range map[string]struct{ path, body string }{
		pprofAddr:   {"/debug/pprof/heap?debug=1", "heap profile"},
		metricsAddr: {"/metrics", "go_goroutines"},
	} {
		srv := httptest.NewServer(side[addr].handler)
		res, err := http.Get(srv.URL + want.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		srv.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want.body) {
			t.Errorf("%s: %d, body without %q", want.path, res.StatusCode, want.body)
		}
	}
}
