package routers_test

import (
	"flag"
	"fmt"
	"go-jwt/test/testkit"
	"os"
	"regexp"
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
	// secrets are the TOTP secrets and recovery codes the tests were shown,
	// and codes the TOTP codes they sent: none may reach the log either.
	secrets = &tokenList{}
	codes   = &tokenList{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		log := runLog.String()
		if leaks := append(leaked(log, given.all()), leakedMFA(log, secrets.all(), codes.all())...); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the log of this run holds secrets: %q\n", leaks)
			code = 1
		} else if n := len(given.all()); n < 50 && fullRun() {
			fmt.Fprintf(os.Stderr, "FAIL: only %d tokens were checked against the log; the log check is not running\n", n)
			code = 1
		} else if s, c := len(secrets.all()), len(codes.all()); (s < 20 || c < 20) && fullRun() {
			fmt.Fprintf(os.Stderr, "FAIL: only %d TOTP secrets and recovery codes and %d TOTP codes were checked against the log\n", s, c)
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

// leakedMFA returns the TOTP secrets, recovery codes (as shown, without
// dashes, in lower case) and TOTP codes found in log. A six-digit code is
// looked for as a word of its own: digits inside a longer number, a
// fraction (latency=1.123456ms) or a hex id are not it.
func leakedMFA(log string, secrets, codes []string) []string {
	var out []string
	for _, s := range secrets {
		for _, form := range []string{s, strings.ReplaceAll(s, "-", ""), strings.ToLower(s)} {
			if strings.Contains(log, form) {
				out = append(out, form)
			}
		}
	}
	for _, c := range codes {
		if regexp.MustCompile(`(^|[^0-9A-Za-z.])` + regexp.QuoteMeta(c) + `($|[^0-9A-Za-z])`).MatchString(log) {
			out = append(out, c)
		}
	}
	return out
}

func TestMFALeakCheckFindsALeak(t *testing.T) {
	secret, rc, code := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ABCD-EFGH-IJKL-MNOP", "123456"
	for _, log := range []string{"secret=" + secret, "x=" + strings.ToLower(secret), "rc=ABCDEFGHIJKLMNOP", `"code":"123456"`, "code=123456 ip=x", "code=123456"} {
		if got := leakedMFA(log, []string{secret, rc}, []string{code}); len(got) == 0 {
			t.Errorf("leak in %q not found", log)
		}
	}
	for _, log := range []string{"latency=1.123456ms", "exp=1712345678", "request_id=0b123456-aaaa", "msg=clean"} {
		if got := leakedMFA(log, []string{secret, rc}, []string{code}); len(got) != 0 {
			t.Errorf("false alarm in %q: %q", log, got)
		}
	}
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
