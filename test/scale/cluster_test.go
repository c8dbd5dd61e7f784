package scale

import (
	"context"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go-jwt/test/proc"
)

// startCluster starts three cluster-enabled redis-servers, joins them into a
// 3-master Redis Cluster (redis-cli --cluster create, no replicas) and waits
// until every node reports cluster_state:ok. It returns the node addresses.
func startCluster(t *testing.T) []*proc.Redis {
	t.Helper()
	nodes := make([]*proc.Redis, 3)
	var addrs []string
	for i := range nodes {
		dir := t.TempDir()
		nodes[i] = startRedis(t, "cluster-node", "", "--cluster-enabled", "yes",
			"--cluster-config-file", dir+"/nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no")
		addrs = append(addrs, nodes[i].Addr)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli (Debian redis-tools, a dependency of redis-server) is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		c := n.Client()
		waitFor(t, 10*time.Second, "cluster_state:ok on "+n.Addr, func() (bool, string) {
			info, err := c.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok"), info
		})
	}
	return nodes
}

// TestServiceOnCluster runs the service on a 3-master Redis Cluster
// (REDIS_ADDRS lists the nodes, REDIS_USERNAME is an ACL user with
// aclRules) through login, welcome, refresh, sessions and logout, for users
// whose keys land on every master.
func TestServiceOnCluster(t *testing.T) {
	nodes := startCluster(t)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An ACL user with the rules docs/SCALING.md gives, on every node.
	const user, pass = "gojwt", "acl-password-for-the-test"
	for _, n := range nodes {
		args := append([]any{"acl", "setuser", user, "on", ">" + pass}, anySlice(strings.Fields(aclRules))...)
		if err := n.Client().Do(ctx, args...).Err(); err != nil {
			t.Fatalf("ACL SETUSER on %s: %v", n.Addr, err)
		}
	}
	vars := serviceEnv(t, proc.RandomHex(t, 32))
	vars["REDIS_ADDRS"] = strings.Join(addrs, ",")
	vars["REDIS_USERNAME"], vars["REDIS_PASSWORD"] = user, pass
	s := startService(t, "service", vars)
	c := newClient(t, ctx)

	// The demo user, then registered users until each master holds keys.
	type account struct{ user, pass string }
	accounts := []account{{s.user, s.pass}}
	for i := range 12 {
		a := account{"clusteruser" + proc.RandomHex(t, 3) + string(rune('a'+i)), "pw-" + proc.RandomHex(t, 4)}
		c.do(http.StatusCreated, http.MethodPost, s.base+"/public/register", "", url.Values{"username": {a.user}, "password": {a.pass}})
		accounts = append(accounts, a)
	}
	for _, a := range accounts {
		first := c.login(s, a.user, a.pass)
		second := c.login(s, a.user, a.pass)
		c.welcome(s, first.Access, http.StatusOK)
		if ids := c.sessions(s, first.Access); len(ids) != 2 {
			t.Fatalf("%s: %d sessions listed, want 2", a.user, len(ids))
		}
		next := c.refresh(s, first)
		c.welcome(s, first.Access, http.StatusUnauthorized) // rotated away
		c.welcome(s, next.Access, http.StatusOK)
		c.do(http.StatusUnauthorized, http.MethodPost, s.base+"/public/refresh", first.Refresh, nil) // reuse: revokes
		c.welcome(s, next.Access, http.StatusUnauthorized)
		c.do(http.StatusOK, http.MethodGet, s.base+"/user/logout", second.Access, nil)
		c.welcome(s, second.Access, http.StatusUnauthorized)
		c.do(http.StatusUnauthorized, http.MethodPost, s.base+"/public/refresh", second.Refresh, nil)
		third := c.login(s, a.user, a.pass)
		c.do(http.StatusOK, http.MethodPost, s.base+"/user/logout-all", third.Access, nil)
		c.welcome(s, third.Access, http.StatusUnauthorized)
	}
	for _, n := range nodes {
		keys, err := n.Client().DBSize(ctx).Result()
		if err != nil || keys == 0 {
			t.Errorf("node %s holds %d keys (%v): the users did not spread over the masters", n.Addr, keys, err)
		}
	}
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
