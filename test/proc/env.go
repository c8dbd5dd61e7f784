package proc

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// FreeAddr returns 127.0.0.1:<a port that was free a moment ago>.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// RandomHex returns n random bytes, hex encoded.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// RedisAddr is the Redis a test that does not stop Redis runs against:
// REDIS_TEST_ADDR when set, else a miniredis in this process (on TCP).
// With REQUIRE_REDIS=1 a missing REDIS_TEST_ADDR fails the test: CI must
// not pass on miniredis alone.
func RedisAddr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("REDIS_TEST_ADDR"); addr != "" {
		return addr
	}
	if os.Getenv("REQUIRE_REDIS") == "1" {
		t.Fatal("REQUIRE_REDIS=1 but REDIS_TEST_ADDR is not set: tests must run against a real Redis")
	}
	return miniredis.RunT(t).Addr()
}

// TailFile returns at most the last max bytes of the file at path, for a
// failing test's output; nothing when it cannot be read.
func TailFile(path string, max int) string {
	b, _ := os.ReadFile(path)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Poll calls cond every interval until it holds (true) or d has passed
// (false).
func Poll(d, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}
