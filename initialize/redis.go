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
