// Package deploy tests the deployment scripts (build.sh, start.sh) against a
// fake docker that records every call, and lints them and docker-compose.yml.
package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	argSep  = "\x1f" // between the arguments of one docker call
	callSep = "\x1e" // after each docker call
)

// fakeDocker records its argv to $dir/docker.log and the secrets it received
// through the environment to $dir/docker.env. `network inspect` fails until
// `network create` ran; `exec ... ping` answers PONG unless FAKE_NO_PONG is set.
const fakeDocker = `#!/bin/sh
for a in "$@"; do printf '%s\037' "$a"; done >> '{{dir}}/docker.log'
printf '\036' >> '{{dir}}/docker.log'
case "$1 $2" in
"network inspect") [ -f '{{dir}}/network.state' ] || exit 1 ;;
"network create") : > '{{dir}}/network.state' ;;
esac
if [ "$1" = run ]; then
	printf 'JWT_SECRET=%s\nDATA_KEY=%s\nREDIS_PASSWORD=%s\nREDISCLI_AUTH=%s\n' "$JWT_SECRET" "$DATA_KEY" "$REDIS_PASSWORD" "$REDISCLI_AUTH" >> '{{dir}}/docker.env'
fi
if [ "$1" = exec ] && [ -z "$FAKE_NO_PONG" ]; then
	case " $* " in *" ping "*) echo PONG ;; esac
fi
exit 0
`

// sandbox is a temp dir holding copies of the scripts and a fake docker.
type sandbox struct{ dir, bin string }

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &sandbox{dir: dir, bin: filepath.Join(dir, "bin")}
	for _, name := range []string{"build.sh", "start.sh", "redis.conf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		s.write(t, name, string(b), 0o755)
	}
	s.write(t, "bin/docker", strings.ReplaceAll(fakeDocker, "{{dir}}", dir), 0o755)
	s.write(t, "bin/sleep", "#!/bin/sh\nexit 0\n", 0o755) // retry loops run instantly
	return s
}

func (s *sandbox) write(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(s.dir, name)
	if err := errors.Join(os.MkdirAll(filepath.Dir(p), 0o755), os.WriteFile(p, []byte(content), mode)); err != nil {
		t.Fatal(err)
	}
}

func (s *sandbox) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run runs a script with a clean environment and returns the docker calls it
// made (the log is emptied for the next run) and its error.
func (s *sandbox) run(t *testing.T, env []string, script string, args ...string) ([][]string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(s.dir, script)}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = append([]string{"PATH=" + s.bin + ":" + os.Getenv("PATH"), "HOME=" + s.dir}, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s %v:\n%s", script, args, out)
	log := filepath.Join(s.dir, "docker.log")
	b, _ := os.ReadFile(log)
	_ = os.Remove(log)
	var calls [][]string
	for _, c := range strings.Split(string(b), callSep) {
		if c != "" {
			calls = append(calls, strings.Split(strings.TrimSuffix(c, argSep), argSep))
		}
	}
	return calls, err
}

// find returns the index of the first call starting with prefix and
// containing every arg of has (-1 if none).
func find(calls [][]string, prefix []string, has ...string) int {
	for i, c := range calls {
		if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) && containsAll(c, has) {
			return i
		}
	}
	return -1
}

func containsAll(c, has []string) bool {
	return !slices.ContainsFunc(has, func(h string) bool { return !slices.Contains(c, h) })
}

func count(calls [][]string, prefix ...string) int {
	n := 0
	for _, c := range calls {
		if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) {
			n++
		}
	}
	return n
}

func check(ok bool, format string, a ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, a...)
}

func TestStartScript(t *testing.T) {
	s := newSandbox(t)
	first, err := s.run(t, nil, "start.sh")
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	secret1, pass1, data1 := s.read(t, ".jwt_secret"), s.read(t, ".redis_password"), s.read(t, ".data_key")
	second, err := s.run(t, []string{"ACCESS_TTL=5m"}, "start.sh", "start")
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	stop, errStop := s.run(t, nil, "start.sh", "stop")
	logs, errLogs := s.run(t, nil, "start.sh", "logs")
	if err := errors.Join(errStop, errLogs); err != nil {
		t.Fatalf("stop, logs: %v", err)
	}
	seen := s.read(t, "docker.env")
	redisRun := find(first, []string{"run"}, "redis:7-alpine")
	appRun := find(first, []string{"run"}, "go-jwt:latest")
	conf := filepath.Join(s.dir, "redis.conf") + ":/usr/local/etc/redis/redis.conf:ro"

	tests := []struct {
		name  string
		check func() error
	}{
		{"network created when missing", func() error {
			return check(count(first, "network", "create") == 1, "first run: want 1 network create, calls %q", first)
		}},
		{"network not created again when present", func() error {
			return check(count(second, "network", "create") == 0, "second run: network create in %q", second)
		}},
		{"redis started before the service", func() error {
			ping := find(first, []string{"exec"}, "ping")
			return check(redisRun >= 0 && ping > redisRun && appRun > ping,
				"redis run %d, ping, app run %d out of order: %q", redisRun, appRun, first)
		}},
		{"service gets REDIS_ADDR of the redis container", func() error {
			return check(find(first, []string{"run"}, "go-jwt:latest", "REDIS_ADDR=go-jwt-redis:6379", "GIN_MODE=release") >= 0, "calls %q", first)
		}},
		{"redis.conf mounted read-only and volume at /data", func() error {
			return check(find(first, []string{"run"}, "redis:7-alpine", conf, "go-jwt-redis-data:/data", "go-jwt-net") >= 0, "calls %q", first)
		}},
		{"secrets passed by name, values not on the command line", func() error {
			for _, c := range slices.Concat(first, second) {
				for _, a := range c {
					if strings.Contains(a, secret1) || strings.Contains(a, pass1) || strings.Contains(a, data1) {
						return fmt.Errorf("secret in argv: %q", c)
					}
				}
			}
			if find(first, []string{"run"}, "go-jwt:latest", "JWT_SECRET", "DATA_KEY", "REDIS_PASSWORD") < 0 {
				return fmt.Errorf("app run lacks -e JWT_SECRET / -e DATA_KEY / -e REDIS_PASSWORD: %q", first)
			}
			return check(strings.Contains(seen, "JWT_SECRET="+secret1+"\n") && strings.Contains(seen, "REDIS_PASSWORD="+pass1+"\n") &&
				strings.Contains(seen, "DATA_KEY="+data1+"\n") && data1 != secret1,
				"docker did not receive the stored secrets in its environment")
		}},
		{"secret files are 0600, 64 hex chars, reused on re-run", func() error {
			for name, v := range map[string]string{".jwt_secret": secret1, ".redis_password": pass1, ".data_key": data1} {
				fi, err := os.Stat(filepath.Join(s.dir, name))
				if err != nil {
					return err
				}
				if fi.Mode().Perm() != 0o600 || len(strings.TrimSpace(v)) != 64 {
					return fmt.Errorf("%s: mode %v, length %d", name, fi.Mode().Perm(), len(v))
				}
				if now := s.read(t, name); now != v {
					return fmt.Errorf("%s changed on re-run", name)
				}
			}
			return nil
		}},
		{"re-run removes old containers before running", func() error {
			rmApp, rmRedis := find(second, []string{"rm", "-f", "go-jwt"}), find(second, []string{"rm", "-f", "go-jwt-redis"})
			run := find(second, []string{"run"})
			return check(rmApp >= 0 && rmRedis >= 0 && run > rmApp && run > rmRedis, "calls %q", second)
		}},
		{"optional settings passed through only when set", func() error {
			return check(find(second, []string{"run"}, "go-jwt:latest", "ACCESS_TTL") >= 0 &&
				find(second, []string{"run"}, "REFRESH_TTL") < 0, "calls %q", second)
		}},
		{"stop removes both containers and runs nothing", func() error {
			return check(find(stop, []string{"rm", "-f", "go-jwt"}) >= 0 && find(stop, []string{"rm", "-f", "go-jwt-redis"}) >= 0 &&
				count(stop, "run") == 0 && count(stop, "volume") == 0 && count(stop, "network") == 0, "calls %q", stop)
		}},
		{"logs follows the service container", func() error {
			return check(len(logs) == 1 && slices.Equal(logs[0], []string{"logs", "-f", "go-jwt"}), "calls %q", logs)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStartScriptEdges(t *testing.T) {
	t.Run("secrets from the environment are used and not stored", func(t *testing.T) {
		s := newSandbox(t)
		jwt, pw, dk := strings.Repeat("j", 40), strings.Repeat("p", 20), strings.Repeat("d", 36)
		calls, err := s.run(t, []string{"JWT_SECRET=" + jwt, "REDIS_PASSWORD=" + pw, "DATA_KEY=" + dk}, "start.sh")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{".jwt_secret", ".redis_password", ".data_key"} {
			if _, err := os.Stat(filepath.Join(s.dir, f)); err == nil {
				t.Errorf("%s written although the secret came from the environment", f)
			}
		}
		if seen := s.read(t, "docker.env"); !strings.Contains(seen, "JWT_SECRET="+jwt+"\n") || !strings.Contains(seen, "REDISCLI_AUTH="+pw+"\n") ||
			!strings.Contains(seen, "DATA_KEY="+dk+"\n") {
			t.Errorf("docker env: %q", seen)
		}
		for _, c := range calls {
			if strings.Contains(strings.Join(c, " "), jwt) || strings.Contains(strings.Join(c, " "), pw) || strings.Contains(strings.Join(c, " "), dk) {
				t.Errorf("secret in argv: %q", c)
			}
		}
	})
	t.Run("a short DATA_KEY is refused before anything starts", func(t *testing.T) {
		s := newSandbox(t)
		calls, err := s.run(t, []string{"DATA_KEY=short"}, "start.sh")
		if err == nil || count(calls, "run") != 0 {
			t.Errorf("start.sh with a 5-byte DATA_KEY: err %v, %d containers run", err, count(calls, "run"))
		}
	})
	t.Run("redis never answering fails after 30 pings without starting the service", func(t *testing.T) {
		s := newSandbox(t)
		calls, err := s.run(t, []string{"FAKE_NO_PONG=1"}, "start.sh")
		if err == nil {
			t.Error("start.sh succeeded although Redis never answered")
		}
		if n := count(calls, "exec"); n != 30 {
			t.Errorf("want 30 ping attempts, got %d", n)
		}
		if find(calls, []string{"run"}, "go-jwt:latest") >= 0 {
			t.Error("service started although Redis never answered")
		}
	})
}

func TestBuildScript(t *testing.T) {
	s := newSandbox(t)
	calls, err := s.run(t, nil, "build.sh")
	if err != nil {
		t.Fatal(err)
	}
	build := find(calls, []string{"build"}, "-t", "go-jwt:latest", ".")
	if build < 0 || !slices.ContainsFunc(calls[build], func(a string) bool { return strings.HasPrefix(a, "VERSION=") }) {
		t.Errorf("no docker build -t go-jwt:latest --build-arg VERSION=...: %q", calls)
	}
	prune := find(calls, []string{"image", "prune"}, "--filter", "label=go-jwt.stage=builder")
	if prune < 0 || prune < build {
		t.Errorf("no label-filtered prune after the build: %q", calls)
	}
	for _, c := range calls {
		if slices.Contains(c, "prune") && !containsAll(c, []string{"--filter", "label=go-jwt.stage=builder"}) {
			t.Errorf("prune without the project label filter: %q", c)
		}
	}
}

// needTool skips when a linter is missing, but fails in CI (CI=true).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (required in CI)", name)
		}
		t.Skipf("%s not installed: apt-get install -y %s", name, name)
	}
}

func TestShellcheck(t *testing.T) {
	needTool(t, "shellcheck")
	cmd := exec.Command("shellcheck", "build.sh", "start.sh")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func TestComposeConfig(t *testing.T) {
	needTool(t, "docker-compose")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "REDIS_PASSWORD=pw"}
	for _, tc := range []struct {
		name   string
		env    []string
		wantOK bool
	}{
		{"valid with the secrets", []string{"JWT_SECRET=" + strings.Repeat("s", 32), "DATA_KEY=" + strings.Repeat("d", 32)}, true},
		{"refused without JWT_SECRET", []string{"DATA_KEY=" + strings.Repeat("d", 32)}, false},
		{"refused without DATA_KEY", []string{"JWT_SECRET=" + strings.Repeat("s", 32)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("docker-compose", "-f", "docker-compose.yml", "config", "-q")
			cmd.Dir = filepath.Join("..", "..")
			cmd.Env = append(base, tc.env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Errorf("docker-compose config -q: err %v, want ok=%v\n%s", err, tc.wantOK, out)
			}
		})
	}
}
