package routers_test

import (
	"flag"
	"fmt"
	"go-jwt/test/testkit"
	"os"
	"strings"
	"sync"
	"testing"
)

// runLog is the log of every router the tests build, and given every token
// they were handed: after the whole run, TestMain fails the package if the
// log holds any token, any token's signature, or the test secret.
var (
	runLog = &testkit.SyncBuffer{}
	given  = &tokenList{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leaked(runLog.String(), given.all()); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the log of this run holds secrets: %q\n", leaks)
			code = 1
		} else if n := len(given.all()); n < 50 && fullRun() {
			fmt.Fprintf(os.Stderr, "FAIL: only %d tokens were checked against the log; the log check is not running\n", n)
			code = 1
		}
	}
	os.Exit(code)
}

// fullRun reports whether the whole package ran (no -run, -skip or -fuzz
// narrowing it), the only case in which the token count says anything.
func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip", "test.fuzz"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

// leaked returns the secrets found in log: whole tokens, their signatures
// (a token split over a line would still leak it) and the test JWT secret.
func leaked(log string, tokens []string) []string {
	var out []string
	needles := []string{"test-secret-test-secret", dataKey}
	for _, tok := range tokens {
		needles = append(needles, tok, tok[strings.LastIndexByte(tok, '.')+1:])
	}
	for _, n := range needles {
		if strings.Contains(log, n) {
			out = append(out, n)
		}
	}
	return out
}

func TestLeakCheckFindsALeak(t *testing.T) {
	tok := "aaa.bbb.signaturepart"
	if got := leaked("msg=x token=aaa.bbb.signaturepart", []string{tok}); len(got) == 0 {
		t.Fatal("a logged token was not found")
	}
	if got := leaked("msg=x sig=signaturepart", []string{tok}); len(got) == 0 {
		t.Fatal("a logged signature was not found")
	}
	if got := leaked("msg=clean", []string{tok}); len(got) != 0 {
		t.Fatalf("false alarm: %q", got)
	}
}

type tokenList struct {
	mu   sync.Mutex
	list []string
}

func (l *tokenList) add(tokens ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, tokens...)
}

func (l *tokenList) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.list...)
}
