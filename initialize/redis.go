package initialize

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"

	"go-jwt/global"
)

// Redis timeouts: short, so an unreachable Redis turns into a fast 503
// instead of a hung request.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
)

// loadRedisConfig reads where Redis is and how to talk to it (SPEC §3,
// docs/SCALING.md), with go-redis UniversalOptions semantics: one address
// is a single node, several are a Redis Cluster, and with REDIS_MASTER_NAME
// they are the Sentinels. REDIS_ADDR may itself be a comma list; REDIS_ADDRS
// is the same list under a plural name. The TLS CA file is read and checked
// here, so a bad one stops start-up with one line.
func loadRedisConfig(r *envReader, c *global.Config) {
	addrVar, addrs := "REDIS_ADDR", r.list("REDIS_ADDR")
	if plural := r.list("REDIS_ADDRS"); len(plural) > 0 {
		if len(addrs) > 0 {
			r.fail("REDIS_ADDRS", "set REDIS_ADDR or REDIS_ADDRS, not both")
		}
		addrVar, addrs = "REDIS_ADDRS", plural
	}
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			r.fail(addrVar, "want host:port (several: a comma list), got %q", a)
		}
	}
	c.RedisAddrs = addrs
	c.RedisMasterName = r.str("REDIS_MASTER_NAME", "")
	c.RedisUsername = r.str("REDIS_USERNAME", "")
	c.RedisTLSCA = r.str("REDIS_TLS_CA", "")
	c.RedisTLS = r.onOff("REDIS_TLS", c.RedisTLSCA != "")

	for _, v := range []struct {
		name string
		set  bool
	}{{"REDIS_MASTER_NAME", c.RedisMasterName != ""}, {"REDIS_USERNAME", c.RedisUsername != ""}, {"REDIS_TLS", c.RedisTLS}} {
		if v.set && len(addrs) == 0 {
			r.fail(v.name, "needs REDIS_ADDR (the embedded Redis has no Sentinel, ACL users or TLS)")
		}
	}
	if len(addrs) > 1 && c.RedisMasterName == "" && c.RedisDB != 0 {
		r.fail("REDIS_DB", "must be 0 with Redis Cluster (several addresses in %s): a cluster has database 0 only", addrVar)
	}
	if c.RedisTLSCA != "" {
		if !c.RedisTLS {
			r.fail("REDIS_TLS_CA", "is set but REDIS_TLS is off")
			return
		}
		pemBytes, err := readCA(c.RedisTLSCA, time.Now())
		if err != nil {
			r.fail("REDIS_TLS_CA", "%v", err)
			return
		}
		c.RedisTLSCAPEM = pemBytes
	}
}

// readCA reads a PEM file of CA certificates and checks that it holds at
// least one, that each parses and that none has expired at now: a TLS
// handshake would fail later with a less helpful message.
func readCA(path string, now time.Time) ([]byte, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d does not parse: %v", path, n+1, err)
		}
		if now.After(cert.NotAfter) {
			return nil, fmt.Errorf("%s: certificate %q expired on %s", path, cert.Subject.CommonName, cert.NotAfter.Format(time.DateOnly))
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return b, nil
}

// redisTLS is the client TLS configuration: the CAs of REDIS_TLS_CA, or the
// system's when none is given. The server name is each node's host as dialled
// (so Cluster nodes, announced by IP, need IP SANs).
func redisTLS(cfg global.Config) (*tls.Config, error) {
	if !cfg.RedisTLS {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.RedisTLSCAPEM) > 0 {
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(cfg.RedisTLSCAPEM) {
			return nil, errors.New("REDIS_TLS_CA: no usable certificate")
		}
	}
	return t, nil
}

// redisMode names the topology of cfg for logs and errors.
func redisMode(cfg global.Config) string {
	switch {
	case cfg.RedisMasterName != "":
		return fmt.Sprintf("Sentinel master %q via %s", cfg.RedisMasterName, strings.Join(cfg.RedisAddrs, ","))
	case len(cfg.RedisAddrs) > 1:
		return "Cluster at " + strings.Join(cfg.RedisAddrs, ",")
	default:
		return strings.Join(cfg.RedisAddrs, ",")
	}
}

// NewRedis connects to the configured Redis (a single node, a Cluster or a
// Sentinel-managed master), or starts an embedded one when no address is
// set. It checks the connection once; close releases it all.
func NewRedis(cfg global.Config, log *slog.Logger) (rdb redis.UniversalClient, closeFn func(), err error) {
	addrVar := "REDIS_ADDR"
	if cfg.RedisAddr == "" && len(cfg.RedisAddrs) > 0 {
		addrVar = "REDIS_ADDRS"
	}
	tlsConfig, err := redisTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	var embedded *miniredis.Miniredis
	if len(cfg.RedisAddrs) == 0 {
		embedded = miniredis.NewMiniRedis()
		if err := embedded.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("REDIS_ADDR: cannot start the embedded Redis: %w", err)
		}
		cfg.RedisAddrs = []string{embedded.Addr()}
		log.Warn("REDIS_ADDR is empty: using an embedded in-process Redis; sessions and users are lost when the process ends (and on a SIGHUP restart)")
	}
	rdb = NewRedisClient(&redis.UniversalOptions{
		Addrs:        cfg.RedisAddrs,
		MasterName:   cfg.RedisMasterName,
		Username:     cfg.RedisUsername,
		Password:     cfg.RedisPassword,
		DB:           cfg.RedisDB,
		TLSConfig:    tlsConfig,
		DialTimeout:  redisDialTimeout,
		ReadTimeout:  redisIOTimeout,
		WriteTimeout: redisIOTimeout,
		PoolTimeout:  redisPoolTimeout,
		// One retry covers a pooled connection that died with a Redis
		// restart; more would only delay the 503 of a real outage. (A
		// Cluster client follows MOVED and ASK redirects besides.)
		MaxRetries: 1,
	})
	closeFn = func() {
		_ = rdb.Close()
		if embedded != nil {
			embedded.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = rdb.Ping(ctx).Err()
	if cc, ok := rdb.(*redis.ClusterClient); ok && err == nil {
		// Every master answers, and answers COMMAND (an ACL may forbid it):
		// without it the client would route every command at random.
		err = cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Command(ctx).Err()
		})
	}
	if err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("%s: cannot reach Redis (%s): %v", addrVar, redisMode(cfg), err)
	}
	if embedded == nil {
		log.Info("redis", "topology", redisMode(cfg), "tls", cfg.RedisTLS, "user", cfg.RedisUsername)
	}
	return rdb, closeFn, nil
}

// NewRedisClient is redis.NewUniversalClient (one address: a single node;
// with a master name: Sentinel; several: Cluster), except that a Cluster
// client is made by NewClusterClient.
func NewRedisClient(o *redis.UniversalOptions) redis.UniversalClient {
	if o.MasterName == "" && len(o.Addrs) > 1 {
		return NewClusterClient(o)
	}
	return redis.NewUniversalClient(o)
}

// NewClusterClient is a Cluster client on the seed addresses of o, whatever
// their number, that works with Redis 7. go-redis v8.11.5 cannot parse
// Redis 7's answers to CLUSTER SLOTS (a fourth element per node) and COMMAND
// (ten elements per command; redis/go-redis#2085, fixed only in v9): without
// the first it finds no node; without the second it knows no command's key
// position, so it sends every command to a random node (a MOVED redirect and
// a second round trip two times in three), splits a MULTI/EXEC across nodes,
// and downloads COMMAND (50 KB) again before each command. Each node client
// therefore answers those two itself, from a generic reply (redis7Compat).
func NewClusterClient(o *redis.UniversalOptions) *redis.ClusterClient {
	opt := o.Cluster()
	opt.NewClient = func(opt *redis.Options) *redis.Client {
		c := redis.NewClient(opt)
		c.AddHook(redis7Compat{c})
		return c
	}
	return redis.NewClusterClient(opt)
}

// redis7Compat is a hook on one Cluster node client: it answers the
// COMMAND and CLUSTER SLOTS commands the Cluster client sends to learn the
// cluster, by sending them as generic commands and reading the replies
// leniently. The typed command is never sent: its parser would fail.
type redis7Compat struct{ c *redis.Client }

// errAnswered stops the hook chain before the typed command is sent;
// AfterProcess clears it (the Cluster client reads the command's Err, not the
// chain's return value).
var errAnswered = errors.New("answered from a generic reply")

func (h redis7Compat) BeforeProcess(ctx context.Context, cmd redis.Cmder) (context.Context, error) {
	switch cmd := cmd.(type) {
	case *redis.CommandsInfoCmd:
		info, err := h.commands(ctx)
		if err != nil {
			return ctx, err
		}
		cmd.SetVal(info)
		return ctx, errAnswered
	case *redis.ClusterSlotsCmd:
		slots, err := h.slots(ctx)
		if err != nil {
			return ctx, err
		}
		cmd.SetVal(slots)
		return ctx, errAnswered
	}
	return ctx, nil
}

func (h redis7Compat) AfterProcess(_ context.Context, cmd redis.Cmder) error {
	if errors.Is(cmd.Err(), errAnswered) {
		cmd.SetErr(nil)
	}
	return nil
}

func (redis7Compat) BeforeProcessPipeline(ctx context.Context, _ []redis.Cmder) (context.Context, error) {
	return ctx, nil
}

func (redis7Compat) AfterProcessPipeline(context.Context, []redis.Cmder) error { return nil }

// commands reads COMMAND: per command its name, arity, flags, first key, last
// key, step, then (Redis 6+) ACL categories and (Redis 7+) more.
func (h redis7Compat) commands(ctx context.Context) (map[string]*redis.CommandInfo, error) {
	reply, err := h.c.Do(ctx, "command").Slice()
	if err != nil {
		return nil, err
	}
	out := make(map[string]*redis.CommandInfo, len(reply))
	for _, r := range reply {
		row, _ := r.([]any)
		if len(row) < 6 {
			return nil, fmt.Errorf("COMMAND: an entry with %d elements", len(row))
		}
		name, _ := row[0].(string)
		arity, _ := row[1].(int64)
		first, _ := row[3].(int64)
		last, _ := row[4].(int64)
		step, _ := row[5].(int64)
		info := &redis.CommandInfo{
			Name: strings.ToLower(name), Arity: int8(arity), //nolint:gosec // Redis's arities and key positions are small
			FirstKeyPos: int8(first), LastKeyPos: int8(last), StepCount: int8(step), //nolint:gosec
			Flags: strings2(row[2]),
		}
		if len(row) > 6 {
			info.ACLFlags = strings2(row[6])
		}
		info.ReadOnly = slices.Contains(info.Flags, "readonly")
		out[info.Name] = info
	}
	return out, nil
}

// strings2 is the strings of a generic array reply.
func strings2(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// slots reads CLUSTER SLOTS: per range its start, end, then per node its
// host, port, id and (Redis 7+) networking metadata.
func (h redis7Compat) slots(ctx context.Context) ([]redis.ClusterSlot, error) {
	reply, err := h.c.Do(ctx, "cluster", "slots").Slice()
	if err != nil {
		return nil, err
	}
	originHost, _, _ := net.SplitHostPort(h.c.Options().Addr)
	out := make([]redis.ClusterSlot, 0, len(reply))
	for _, r := range reply {
		row, _ := r.([]any)
		if len(row) < 3 {
			return nil, fmt.Errorf("CLUSTER SLOTS: a range with %d elements", len(row))
		}
		start, ok1 := row[0].(int64)
		end, ok2 := row[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("CLUSTER SLOTS: bad range %v", row[:2])
		}
		slot := redis.ClusterSlot{Start: int(start), End: int(end)}
		for _, n := range row[2:] {
			node, _ := n.([]any)
			if len(node) < 2 {
				return nil, fmt.Errorf("CLUSTER SLOTS: a node with %d elements", len(node))
			}
			host, _ := node[0].(string)
			port, ok := node[1].(int64)
			if !ok {
				return nil, fmt.Errorf("CLUSTER SLOTS: bad port %v", node[1])
			}
			if host == "" || host == "?" { // the node does not know its own address
				host = originHost
			}
			id := ""
			if len(node) > 2 {
				id, _ = node[2].(string)
			}
			slot.Nodes = append(slot.Nodes, redis.ClusterNode{ID: id, Addr: net.JoinHostPort(host, strconv.FormatInt(port, 10))})
		}
		out = append(out, slot)
	}
	return out, nil
}
