package scale

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go-jwt/initialize"
)

// TestRedisSettings checks how the Redis topology and transport settings are
// read (SPEC §3 with go-redis UniversalOptions semantics); each bad value
// names its variable.
func TestRedisSettings(t *testing.T) {
	dir := t.TempDir()
	ca := newAuthority(t, dir, "ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	expired := newAuthority(t, dir, "expired", time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		addrs  []string // want RedisAddrs
		master string
		tls    bool
		err    string // the variable the error names; empty: no error
	}{
		{name: "nothing: embedded Redis", env: map[string]string{}},
		{name: "one node", env: map[string]string{"REDIS_ADDR": "redis:6379"}, addrs: []string{"redis:6379"}},
		{name: "REDIS_ADDR as a comma list: a cluster", env: map[string]string{"REDIS_ADDR": "a:1, b:2,c:3"}, addrs: []string{"a:1", "b:2", "c:3"}},
		{name: "REDIS_ADDRS", env: map[string]string{"REDIS_ADDRS": "a:1,b:2,c:3"}, addrs: []string{"a:1", "b:2", "c:3"}},
		{name: "sentinels and a master name", env: map[string]string{"REDIS_ADDRS": "s1:26379,s2:26379,s3:26379", "REDIS_MASTER_NAME": "mymaster", "REDIS_DB": "2"},
			addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, master: "mymaster"},
		{name: "TLS with the system roots", env: map[string]string{"REDIS_ADDR": "redis:6380", "REDIS_TLS": "on"}, addrs: []string{"redis:6380"}, tls: true},
		{name: "a CA file turns TLS on", env: map[string]string{"REDIS_ADDR": "redis:6380", "REDIS_TLS_CA": ca.certPath}, addrs: []string{"redis:6380"}, tls: true},
		{name: "both REDIS_ADDR and REDIS_ADDRS", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_ADDRS": "b:2"}, err: "REDIS_ADDRS"},
		{name: "an address without a port in the list", env: map[string]string{"REDIS_ADDRS": "a:1,b"}, err: "REDIS_ADDRS"},
		{name: "an empty port", env: map[string]string{"REDIS_ADDR": "a:"}, err: "REDIS_ADDR"},
		{name: "a database other than 0 on a cluster", env: map[string]string{"REDIS_ADDR": "a:1,b:2", "REDIS_DB": "1"}, err: "REDIS_DB"},
		{name: "a master name without sentinels", env: map[string]string{"REDIS_MASTER_NAME": "mymaster"}, err: "REDIS_MASTER_NAME"},
		{name: "TLS to the embedded Redis", env: map[string]string{"REDIS_TLS": "on"}, err: "REDIS_TLS"},
		{name: "a user for the embedded Redis", env: map[string]string{"REDIS_USERNAME": "app"}, err: "REDIS_USERNAME"},
		{name: "REDIS_TLS not on or off", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_TLS": "maybe"}, err: "REDIS_TLS"},
		{name: "a CA file with TLS off", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_TLS": "off", "REDIS_TLS_CA": ca.certPath}, err: "REDIS_TLS_CA"},
		{name: "a missing CA file", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_TLS_CA": filepath.Join(dir, "none.pem")}, err: "REDIS_TLS_CA"},
		{name: "a CA file without a certificate", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_TLS_CA": garbage}, err: "REDIS_TLS_CA"},
		{name: "an expired CA", env: map[string]string{"REDIS_ADDR": "a:1", "REDIS_TLS_CA": expired.certPath}, err: "REDIS_TLS_CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"JWT_SECRET": strings.Repeat("k", 32)}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := initialize.LoadConfig(func(k string) string { return env[k] })
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err+": ") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line starting with %s:", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.RedisAddrs, tt.addrs) || c.RedisMasterName != tt.master || c.RedisTLS != tt.tls {
				t.Fatalf("got addrs %q master %q tls %v", c.RedisAddrs, c.RedisMasterName, c.RedisTLS)
			}
			if (len(c.RedisTLSCAPEM) > 0) != (tt.env["REDIS_TLS_CA"] != "") {
				t.Fatalf("CA PEM read: %d bytes", len(c.RedisTLSCAPEM))
			}
		})
	}
}
