// Package proc holds what the tests that drive the built binary from
// outside (test/process, test/container, test/scale) share: building the
// binary once per run, free loopback addresses, a redis-server child
// process of the test's own, and HTTP calls read whole.
package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build builds the service binary at most once per test binary, into a
// temporary folder that Remove deletes: one build serves every test, and
// nothing is left behind.
type Build struct {
	// Prefix names the temporary folder, e.g. "go-jwt-process-".
	Prefix string
	// Flags go between "go build" and "-o".
	Flags []string
	// Package is what is built: "go-jwt" when empty.
	Package string
	// Env is added to the test's environment for go build.
	Env []string

	once     sync.Once
	dir, bin string
	err      error
}

// Binary builds go-jwt from the repository root (once) and returns its
// path; it fails the test when the build failed.
func (b *Build) Binary(t testing.TB) string {
	t.Helper()
	b.once.Do(b.build)
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

func (b *Build) build() {
	root, err := RepoRoot()
	if err != nil {
		b.err = err
		return
	}
	if b.dir, err = os.MkdirTemp("", b.Prefix); err != nil {
		b.err = err
		return
	}
	b.bin = filepath.Join(b.dir, "go-jwt")
	pkg := b.Package
	if pkg == "" {
		pkg = "go-jwt"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(append([]string{"build"}, b.Flags...), "-o", b.bin, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if len(b.Env) > 0 {
		cmd.Env = append(os.Environ(), b.Env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("go build: %v\n%s", err, out)
	}
}

// Remove deletes the build folder, if there is one.
func (b *Build) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// Main runs the tests of m, then removes b's build folder, and exits with
// the tests' status: TestMain of a package that uses b.
func Main(m *testing.M, b *Build) {
	code := m.Run()
	b.Remove()
	os.Exit(code)
}

// RepoRoot is the folder of go.mod, asked of the go command (../.. as a
// fallback: the test packages sit two levels below the root).
func RepoRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return filepath.Abs(filepath.Join("..", ".."))
}
