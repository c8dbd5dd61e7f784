package utils

import (
	"context"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/go-redis/redis_rate/v9"

	"go-jwt/global"
)

// Limit is a budget of failures: Rate a minute, up to Burst at once.
type Limit struct {
	Rate, Burst int
}

// LoginLimiter budgets failed password checks per username and per client
// IP in Redis (GCRA, github.com/go-redis/redis_rate), so every instance
// shares one budget. Check runs before any hashing is spent; only failures
// are charged, and a success resets nothing, so an attacker's IP budget is not
// restored by logging in to an account of their own.
type LoginLimiter struct {
	limiter      *redis_rate.Limiter
	perUser      redis_rate.Limit
	perIP        redis_rate.Limit
	userInterval time.Duration
	ipInterval   time.Duration
}

// NewLoginLimiter returns a limiter on rdb.
func NewLoginLimiter(rdb redis.UniversalClient, perUser, perIP Limit) *LoginLimiter {
	u := redis_rate.Limit{Rate: perUser.Rate, Burst: perUser.Burst, Period: time.Minute}
	i := redis_rate.Limit{Rate: perIP.Rate, Burst: perIP.Burst, Period: time.Minute}
	return &LoginLimiter{
		limiter: redis_rate.NewLimiter(rdb), perUser: u, perIP: i,
		userInterval: time.Minute / time.Duration(perUser.Rate),
		ipInterval:   time.Minute / time.Duration(perIP.Rate),
	}
}

func userLimitKey(user string) string { return "login:u:{" + user + "}" }
func ipLimitKey(ip string) string     { return "login:ip:" + ip }

// Check returns a *global.RetryError wrapping global.ErrRateLimited when the
// user (if not empty) or the IP has no failure left. It charges nothing.
func (l *LoginLimiter) Check(ctx context.Context, user, ip string) error {
	if user != "" {
		if err := l.peek(ctx, userLimitKey(user), l.perUser, l.userInterval); err != nil {
			return err
		}
	}
	return l.peek(ctx, ipLimitKey(ip), l.perIP, l.ipInterval)
}

// peek asks for zero events: redis_rate then reports the remaining budget
// without spending any. Remaining 0 means the next failure would be refused.
func (l *LoginLimiter) peek(ctx context.Context, key string, limit redis_rate.Limit, interval time.Duration) error {
	res, err := l.limiter.AllowN(ctx, key, limit, 0)
	if err != nil {
		return storeErr(err)
	}
	if res.Remaining >= 1 {
		return nil
	}
	// The budget is empty until one emission interval frees a slot: ResetAfter
	// is when all Burst slots are free again.
	wait := max(res.ResetAfter-time.Duration(limit.Burst-1)*interval, time.Second)
	return &global.RetryError{Err: global.ErrRateLimited, After: wait}
}

// Fail charges one failure to the user (if not empty) and to the IP.
func (l *LoginLimiter) Fail(ctx context.Context, user, ip string) error {
	if user != "" {
		if _, err := l.limiter.Allow(ctx, userLimitKey(user), l.perUser); err != nil {
			return storeErr(err)
		}
	}
	_, err := l.limiter.Allow(ctx, ipLimitKey(ip), l.perIP)
	return storeErr(err)
}

// Attempt charges one attempt to the IP and refuses it past the budget: for
// actions limited by count, not by failure (registration).
func (l *LoginLimiter) Attempt(ctx context.Context, ip string) error {
	res, err := l.limiter.Allow(ctx, ipLimitKey(ip), l.perIP)
	if err != nil {
		return storeErr(err)
	}
	if res.Allowed == 0 {
		return &global.RetryError{Err: global.ErrRateLimited, After: max(res.RetryAfter, time.Second)}
	}
	return nil
}
