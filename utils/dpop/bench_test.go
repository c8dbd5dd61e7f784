package dpop_test

import (
	"testing"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// BenchmarkCheck is the CPU of one proof check (ES256): go test -run '^$'
// -bench Check ./utils/dpop/
func BenchmarkCheck(b *testing.B) {
	clock := testkit.NewClock()
	c, err := dpop.NewClient(testkit.Signer(b, "ES256"), clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	proof, err := c.Proof("GET", htu, access, "")
	if err != nil {
		b.Fatal(err)
	}
	v := verifier(clock, nil)
	headers := []string{proof}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Check(headers, resource); err != nil {
			b.Fatal(err)
		}
	}
}
