package mfa_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go-jwt/utils/mfa"
)

// TestOathtoolAgrees: the README computes codes with Debian's oathtool
// (`oathtool --totp -b SECRET`); at the same instants it gives the codes
// the service accepts. Missing, the test skips, but fails in CI.
func TestOathtoolAgrees(t *testing.T) {
	if _, err := exec.LookPath("oathtool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool is not installed (apt-get install -y oathtool); CI must run this test")
		}
		t.Skip("oathtool is not installed (apt-get install -y oathtool)")
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, at := range []int64{59, 1111111109, 1700000000, time.Now().Unix()} {
		out, err := exec.Command("oathtool", "--totp", "-b", "-N", "@"+strconv.FormatInt(at, 10), secret).Output()
		if err != nil {
			t.Fatal(err)
		}
		want, err := mfa.Code(secret, time.Unix(at, 0))
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Fatalf("at %d: oathtool says %q, the service %q (%v)", at, out, want, err)
		}
	}
}
