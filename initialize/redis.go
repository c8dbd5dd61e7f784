package initialize

import (
	"context"
	"fmt"
	"log/slog"
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

// NewRedis connects to the configured Redis, or starts an embedded one when
// REDIS_ADDR is empty. It checks the connection once; close releases it all.
func NewRedis(cfg global.Config, log *slog.Logger) (rdb redis.UniversalClient, closeFn func(), err error) {
	addr := cfg.RedisAddr
	var embedded *miniredis.Miniredis
	if addr == "" {
		embedded = miniredis.NewMiniRedis()
		if err := embedded.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("REDIS_ADDR: cannot start the embedded Redis: %w", err)
		}
		addr = embedded.Addr()
		log.Warn("REDIS_ADDR is empty: using an embedded in-process Redis; sessions and users are lost when the process ends (and on a SIGHUP restart)")
	}
	rdb = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        []string{addr},
		Password:     cfg.RedisPassword,
		DB:           cfg.RedisDB,
		DialTimeout:  redisDialTimeout,
		ReadTimeout:  redisIOTimeout,
		WriteTimeout: redisIOTimeout,
		PoolTimeout:  redisPoolTimeout,
		// One retry covers a pooled connection that died with a Redis
		// restart; more would only delay the 503 of a real outage.
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
	if err := rdb.Ping(ctx).Err(); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("REDIS_ADDR: cannot reach Redis at %s: %v", addr, err)
	}
	return rdb, closeFn, nil
}
