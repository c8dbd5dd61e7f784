package utils_test

import (
	"testing"

	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
)

// go test -run '^$' -bench . -benchmem ./utils/ ./middleware/

func BenchmarkIssue(b *testing.B) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Issue("kesa", "sid", clock.Now(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse: "verified" is the steady state of an access token (its
// signature checked once, its claims validated on every use); "first-use"
// is a token never seen before (a refresh token always is).
func BenchmarkParse(b *testing.B) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	p, err := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verified", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Parse(p.Access, global.TokenAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-use", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Parse(p.Refresh, global.TokenRefresh); err != nil {
				b.Fatal(err)
			}
		}
	})
}
