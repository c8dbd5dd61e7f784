package container

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// nonroot is distroless's service user (gcr.io/distroless/static:nonroot).
const nonroot = 65532

// TestStaticBinaryRunsInEmptyRoot proves the Dockerfile's claim that the
// binary needs nothing of a distribution: built as the Dockerfile builds it,
// it has no ELF interpreter and no dynamic section, and it serves from a root
// directory holding only what distroless/static:nonroot holds (passwd and
// group with nonroot, CA certificates, /tmp) and the /dev nodes every
// container gets, as uid 65532 and as PID 1 of
// its own PID namespace, as `docker run` starts it. Its healthcheck
// subcommand, run the same way, exits 0 while it serves and non-zero once it
// has stopped.
func TestStaticBinaryRunsInEmptyRoot(t *testing.T) {
	bin := build.Binary(t)
	assertStatic(t, bin)
	if os.Geteuid() != 0 {
		unavailable(t, "chroot and a new PID namespace need root (euid %d)", os.Geteuid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	root := emptyRoot(t, bin)
	addr := proc.FreeAddr(t)
	base := "http://" + addr
	env := []string{
		// What the image sets: docker's default PATH, the Dockerfile's ENV,
		// and HOME from /etc/passwd.
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/home/nonroot",
		"GIN_MODE=release",
		"APP_ADDR=" + addr,
		// chroot keeps the network namespace: 127.0.0.1 is the host's.
		"REDIS_ADDR=" + proc.RedisAddr(t),
		"JWT_SECRET=" + proc.RandomHex(t, 32),
		"DATA_KEY=" + proc.RandomHex(t, 32),
	}
	jail := func(pid1 bool) *syscall.SysProcAttr {
		a := &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
		if pid1 {
			a.Cloneflags = syscall.CLONE_NEWPID
		}
		return a
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "/go-jwt", args...)
		cmd.Env, cmd.SysProcAttr, cmd.Dir = env, jail(false), "/"
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	if out, err := run("version"); err != nil || out != "test" {
		t.Errorf("go-jwt version: %q %v, want test (the -X main.version stamp)", out, err)
	}

	logPath := filepath.Join(t.TempDir(), "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	// The path is looked up inside the chroot: / is root here.
	cmd := exec.Command("/go-jwt")
	cmd.Env, cmd.SysProcAttr, cmd.Dir = env, jail(true), "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		unavailable(t, "cannot start the binary in a chroot, as uid %d, in a new PID namespace: %v", nonroot, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill() // PID 1: the whole namespace goes with it
			<-exited
		}
		if t.Failed() {
			t.Logf("service log (tail):\n%s", proc.TailFile(logPath, 6000))
		}
	})

	if err := waitPing(ctx, base); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	if a, err := proc.Call(ctx, c, http.MethodGet, base+"/readyz", "", nil); err != nil || a.Status != http.StatusOK {
		t.Errorf("readyz (Redis through the chroot): %v %v, want 200", a, err)
	}
	if out, err := run("healthcheck"); err != nil {
		t.Errorf("healthcheck while serving: %v (%q), want exit status 0", err, out)
	}

	// The init's PID file, written by uid 65532 into the image's /tmp, names
	// the server; a SIGHUP to PID 1 replaces it (endless re-executes
	// /go-jwt inside the root).
	pidFile := func() string {
		m, _ := filepath.Glob(filepath.Join(root, "tmp", "go-jwt-*", "go-jwt.pid"))
		if len(m) != 1 {
			return ""
		}
		b, _ := os.ReadFile(m[0])
		return strings.TrimSpace(string(b))
	}
	first := pidFile()
	if _, err := strconv.Atoi(first); err != nil {
		t.Fatalf("PID file below the root's /tmp: %q, want a PID", first)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !proc.Poll(10*time.Second, 5*time.Millisecond, func() bool { p := pidFile(); return p != "" && p != first }) {
		t.Fatalf("PID file still names %s 10s after SIGHUP", first)
	}
	if err := waitPing(ctx, base); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	t.Logf("SIGHUP to PID 1: the PID file went from server %s to %s (namespace PIDs)", first, pidFile())

	sigAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("PID 1 ended with %v after SIGTERM, want exit status 0", waitErr)
		}
		t.Logf("PID 1 exited %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("PID 1 still runs 10s after SIGTERM")
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) > 0 {
		t.Errorf("left in the root's /tmp after exit: %v, want nothing", left)
	}
	out, err := run("healthcheck")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("healthcheck with the server stopped: %v (%q), want a non-zero exit status", err, out)
	}
}

// assertStatic fails unless bin is a statically linked ELF executable: no
// PT_INTERP (no dynamic loader to find) and no dynamic section (no shared
// libraries), which is what `file` reports as "statically linked".
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not statically linked", bin, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section: not statically linked", bin)
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s imports shared libraries %v (%v)", bin, libs, err)
	}
}

// emptyRoot makes a root directory with what gcr.io/distroless/static:nonroot
// holds for this binary, the binary at /go-jwt (root-owned, as the
// Dockerfile copies it) and the device nodes a container runtime adds.
func emptyRoot(t *testing.T, bin string) string {
	t.Helper()
	root := t.TempDir()
	for dir, mode := range map[string]os.FileMode{
		".": 0o755, "etc": 0o755, "etc/ssl": 0o755, "etc/ssl/certs": 0o755,
		"home": 0o755, "home/nonroot": 0o700, "tmp": 0o777 | os.ModeSticky, "dev": 0o755,
	} {
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		// Chmod, not MkdirAll's mode: the umask would clear /tmp's bits.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(root, "home/nonroot"), nonroot, nonroot); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n"+
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", 0o644)
	write("etc/group", "root:x:0:\nnonroot:x:65532:\n", 0o644)
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("the host's CA bundle (distroless ships one at the same path): %v", err)
	}
	write("etc/ssl/certs/ca-certificates.crt", string(certs), 0o644)
	copyFile(t, bin, filepath.Join(root, "go-jwt"), 0o755)
	// Not in the image, but in every container: the runtime mounts a /dev
	// with these nodes. The binary needs /dev/null: endless starts the new
	// process with os/exec, which opens it for the new process's stdin.
	for name, minor := range map[string]int{"null": 3, "zero": 5, "full": 7, "random": 8, "urandom": 9} {
		p := filepath.Join(root, "dev", name)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|minor); err != nil {
			unavailable(t, "mknod %s (a container's /dev): %v", p, err)
		}
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := os.OpenFile(filepath.Join(root, "dev/null"), os.O_WRONLY, 0); err != nil {
		unavailable(t, "device nodes do not work below %s (a nodev mount?): %v", root, err)
	} else {
		_ = f.Close()
	}
	return root
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(fmt.Errorf("writing %s: %w", to, err))
	}
}
