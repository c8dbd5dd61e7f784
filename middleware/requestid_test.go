package middleware

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
)

var idFormat = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]+$`)

func TestRequestIDsAreUniqueAndWellFormed(t *testing.T) {
	ids := NewIDs()
	const goroutines, each = 8, 5000
	var mu sync.Mutex
	seen := make(map[string]bool, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			local := make([]string, 0, each)
			for i := range each {
				local = append(local, ids.Value()[0])
				if i%1000 == 999 { // a collection empties the pool: its blocks' ids are never handed out again
					runtime.GC()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("id %q handed out twice", id)
				}
				if !idFormat.MatchString(id) || !saneRequestID(id) {
					t.Errorf("id %q: want 16 hex digits, '-', a hex counter, and one this service would keep", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct ids, want %d", len(seen), goroutines*each)
	}
	// Another process (or the one a SIGHUP starts) draws another prefix.
	a, b := NewIDs().Value()[0], NewIDs().Value()[0]
	if a[:16] == b[:16] {
		t.Fatalf("two sources share the prefix %q", a[:16])
	}
}

func TestRequestIDCostsNoAllocation(t *testing.T) {
	ids := NewIDs()
	// A block's few allocations, spread over its ids, average below one.
	if n := testing.AllocsPerRun(10*idsPerBlock, func() { _ = ids.Value() }); n != 0 {
		t.Fatalf("%v allocations per id, want none (ids are minted %d at a time)", n, idsPerBlock)
	}
}

// An id's header value is a slice cut from its block: appending to it (as
// Header.Add would) must copy, never write over the id handed out next.
func TestRequestIDValueIsItsOwn(t *testing.T) {
	ids := NewIDs()
	a := ids.Value()
	_ = append(a, "added")
	b := ids.Value()
	if len(a) != 1 || cap(a) != 1 || b[0] == "added" || a[0] == b[0] {
		t.Fatalf("a = %q (cap %d), then b = %q", a, cap(a), b)
	}
}

func TestRequestIDHeader(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(RequestID())
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, response.RequestID(c)) })
	tests := []struct {
		name, incoming string
		kept           bool
	}{
		{"none: a new one", "", false},
		{"sane: kept", "abc-123_X.y", true},
		{"64 characters: kept", strings.Repeat("a", 64), true},
		{"65 characters: replaced", strings.Repeat("a", 65), false},
		{"space and newline: replaced", "bad id\nwith newline", false},
		{"quote: replaced", `a"b`, false},
		{"non-ASCII: replaced", "idé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set("X-Request-ID", tt.incoming)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			got := w.Header().Get("X-Request-ID")
			if got != w.Body.String() {
				t.Fatalf("header %q, context %q: want one id", got, w.Body.String())
			}
			if tt.kept && got != tt.incoming {
				t.Fatalf("got %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.kept && !idFormat.MatchString(got) {
				t.Fatalf("got %q, want a new id", got)
			}
		})
	}
}

// The c.Keys map withClaims lends from its pool is handed to the next
// request: nothing one request stored (its claims, or anything a handler
// added) may still be in it, and a request without claims has none.
func TestKeysOfOneRequestNeverReachTheNext(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(RequestID())
	r.GET("/set", func(c *gin.Context) {
		withClaims(c, &utils.Claims{Username: c.Query("v")})
	}, func(c *gin.Context) {
		c.Set("extra:"+c.Query("v"), true) // a key of its own per value: a leak would make three
		if Claims(c) == nil || Claims(c).Username != c.Query("v") || len(c.Keys) != 2 {
			c.String(http.StatusInternalServerError, "keys %v", c.Keys)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/get", func(c *gin.Context) {
		if v, ok := c.Get(global.CtxClaims); ok {
			c.String(http.StatusInternalServerError, "left over: %v", v)
			return
		}
		if response.RequestID(c) == "" {
			c.String(http.StatusInternalServerError, "no request id")
			return
		}
		c.Status(http.StatusNoContent)
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				path := "/get"
				if (i+g)%2 == 0 {
					path = "/set?v=user" + strings.Repeat("x", i%5)
				}
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != http.StatusNoContent {
					t.Errorf("%s: %d %s", path, w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkRequestIDValue(b *testing.B) {
	ids := NewIDs()
	b.ReportAllocs()
	for b.Loop() {
		_ = ids.Value()
	}
}

func TestNextHexCounts(t *testing.T) {
	d := []byte("0")
	for n := uint64(0); n < 70000; n++ {
		if got, want := string(d), strconv.FormatUint(n, 16); got != want {
			t.Fatalf("after %d steps: %q, want %q", n, got, want)
		}
		d = nextHex(d)
	}
}
