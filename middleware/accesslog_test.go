package middleware

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// The fast access line is byte for byte what slog's JSON handler writes for
// the same record, escapes included, so log collectors see one format.
func TestAccessLineIsSlogJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		e    accessEntry
	}{
		{"a whole second, UTC", accessEntry{time: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), method: "GET", route: "/", status: 200, ip: "a", id: "b"}},
		{"trailing zeros, the same second", accessEntry{time: at.Truncate(time.Millisecond * 10), method: "GET", route: "/", status: 200, ip: "a", id: "b"}},
		{"next second, west of UTC", accessEntry{time: time.Date(2026, 3, 4, 5, 6, 8, 1, time.FixedZone("y", -7*3600-1800)), method: "GET", route: "/", status: 200, ip: "a", id: "b"}},
		{"success", accessEntry{method: "GET", route: "/user/welcome", status: 200, latency: 1234567, ip: "203.0.113.7", id: "5f0c2a9be13d4786-1a"}},
		{"failure with a reason", accessEntry{method: "POST", route: "/public/refresh", status: 401, latency: 42, ip: "::1", id: "abc", reason: "token revoked"}},
		{"reason needing escapes", accessEntry{method: "GET", route: "unmatched", status: 500, ip: "", id: "x",
			reason: "panic: \"quoted\" back\\slash\nnew\ttab\r\x01 \u2028\u2029 é \xff<>&"}},
	}
	// One handler for every row: its formatted second must follow the
	// clock and the zone.
	var sharedOut bytes.Buffer
	shared := NewLogHandler(true, io.Discard, &sharedOut)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want, got bytes.Buffer
			e := tt.e
			if e.time.IsZero() {
				e.time = at
			}
			r := slog.NewRecord(e.time, slog.LevelInfo, "request", 0)
			r.AddAttrs(slog.String("method", tt.e.method), slog.String("route", tt.e.route), slog.Int("status", tt.e.status),
				slog.Duration("latency", tt.e.latency), slog.String("ip", tt.e.ip), slog.String("request_id", tt.e.id))
			if tt.e.reason != "" {
				r.AddAttrs(slog.String("reason", tt.e.reason))
			}
			if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			shared.write(&e)
			got.Write(sharedOut.Bytes())
			sharedOut.Reset()
			if got.String() != want.String() {
				t.Fatalf("fast line\n%s\nslog's\n%s", got.String(), want.String())
			}
		})
	}
}

func TestAccessLineAllocatesNothing(t *testing.T) {
	h := NewLogHandler(true, io.Discard, io.Discard)
	e := accessEntry{time: time.Now(), method: "GET", route: "/user/welcome", status: 200, latency: time.Millisecond, ip: "203.0.113.7", id: "5f0c2a9be13d4786-1a"}
	h.write(&e) // warm the pool
	if n := testing.AllocsPerRun(1000, func() { h.write(&e) }); n != 0 {
		t.Fatalf("%v allocations per line, want 0", n)
	}
}

// Through gin: release mode's handler writes the line to the access writer,
// text mode's through slog to the events writer; neither holds the
// Authorization header, the query or the body.
func TestAccessLogThroughGin(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, json := range []bool{true, false} {
		var events, access bytes.Buffer
		log := slog.New(NewLogHandler(json, &events, &access))
		r := gin.New()
		r.Use(RequestID(), AccessLog(log, false, nil))
		r.POST("/public/login", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
		req := httptest.NewRequest(http.MethodPost, "/public/login?token=query-secret", strings.NewReader("password=body-secret"))
		req.Header.Set("Authorization", "Bearer header-secret")
		req.Header.Set("X-Request-ID", "req-42")
		req.RemoteAddr = "198.51.100.9:4242"
		r.ServeHTTP(httptest.NewRecorder(), req)
		line, other := access.String(), events.String()
		if !json {
			line, other = other, line
		}
		for _, want := range []string{"request", "POST", "/public/login", "200", "198.51.100.9", "req-42"} {
			if !strings.Contains(line, want) {
				t.Errorf("json=%v: line %q lacks %q", json, line, want)
			}
		}
		if strings.Count(line, "\n") != 1 || other != "" {
			t.Errorf("json=%v: want one line on one writer; got %q and %q", json, line, other)
		}
		if strings.Contains(line, "secret") {
			t.Errorf("json=%v: a secret reached the log: %q", json, line)
		}
	}
}

// Any string is quoted as slog's JSON handler quotes it: the table's fast
// path and the careful one agree with slog on every byte.
func FuzzJSONStringIsSlogs(f *testing.F) {
	for _, s := range []string{"", "GET", "/user/welcome", "5f0c2a9be13d4786-1a", "a\"b", "é", "x\xff", "\u2028", "tab\there", "\x7f\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
		r.AddAttrs(slog.String("k", s))
		if err := slog.NewJSONHandler(&want, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key != "k" {
				return slog.Attr{}
			}
			return a
		}}).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		got := `{"k":` + string(appendJSONString(nil, s)) + "}\n"
		if got != want.String() {
			t.Fatalf("%q: got %s, slog wrote %s", s, got, want.String())
		}
	})
}

type countingObserver struct{ requests, rejected, failed, limited int }

func (o *countingObserver) Request(string, string, int, time.Duration) { o.requests++ }
func (o *countingObserver) Rejected(string)                            { o.rejected++ }
func (o *countingObserver) LoginFailed()                               { o.failed++ }
func (o *countingObserver) RateLimited()                               { o.limited++ }

// One measurement feeds both the access line and the metrics: every request
// is counted once under its route template, and its last error is
// classified (a refused token, a failed password, a rate limit).
func TestAccessLogFeedsTheMetrics(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	defer gin.SetMode(gin.TestMode)
	var access bytes.Buffer
	o := &countingObserver{}
	r := gin.New()
	r.Use(RequestID(), AccessLog(slog.New(NewLogHandler(true, io.Discard, &access)), false, o))
	fail := func(err error) gin.HandlerFunc {
		return func(c *gin.Context) { _ = c.Error(err); c.Status(http.StatusUnauthorized) }
	}
	r.GET("/public/ping", func(c *gin.Context) { c.String(http.StatusOK, "pong") })
	r.GET("/user/welcome", fail(global.ErrTokenExpired))
	r.POST("/public/login", fail(global.ErrInvalidCredentials))
	r.POST("/public/refresh", fail(global.ErrRateLimited))
	for _, q := range [][2]string{{"GET", "/public/ping"}, {"GET", "/user/welcome"}, {"POST", "/public/login"}, {"POST", "/public/refresh"}, {"GET", "/nowhere"}} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(q[0], q[1], nil))
		id := w.Header().Get("X-Request-ID")
		if id == "" || !strings.Contains(access.String(), `"request_id":"`+id+`"`) {
			t.Fatalf("%s: id %q not in the access log %q", q[1], id, access.String())
		}
	}
	if *o != (countingObserver{requests: 5, rejected: 1, failed: 1, limited: 1}) {
		t.Fatalf("observed %+v", *o)
	}
}
