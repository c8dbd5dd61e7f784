package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/utils"
)

// browserUA is a 120-byte browser User-Agent, the size the memory target
// is set for.
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 OPR/99.0"

// loginVersusHash times n logins over one connection, one at a time, and
// reads from the service's own metrics how long the password hashes inside
// those very logins took (password_hash_duration_seconds: its sum and count
// before and after): the hash is the floor under a login, and the rest —
// network, parsing, Redis, signing, this client — is what the service adds.
// Both come from the same requests in the same process, so the difference
// is not two processes' noise. Means, as the metric gives a sum.
func loginVersusHash(addr string, n int) (login, hash time.Duration, err error) {
	c, err := dial(addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	sum0, count0, err := hashMetric(addr)
	if err != nil {
		return 0, 0, err
	}
	var total time.Duration
	for range n {
		start := time.Now()
		if err := loginOp(&worker{c: c}); err != nil {
			return 0, 0, err
		}
		total += time.Since(start)
	}
	sum1, count1, err := hashMetric(addr)
	if err != nil {
		return 0, 0, err
	}
	if count1-count0 != float64(n) {
		return 0, 0, fmt.Errorf("the service counted %v password hashes for %d logins", count1-count0, n)
	}
	return total / time.Duration(n), time.Duration((sum1 - sum0) / float64(n) * float64(time.Second)), nil
}

// hashMetric reads password_hash_duration_seconds's sum and count from the
// service's /metrics.
func hashMetric(addr string) (sum, count float64, err error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch name {
		case "password_hash_duration_seconds_sum":
			sum, err = strconv.ParseFloat(value, 64)
			found++
		case "password_hash_duration_seconds_count":
			count, err = strconv.ParseFloat(value, 64)
			found++
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/metrics has no password_hash_duration_seconds")
	}
	return sum, count, nil
}

// printMemory measures Redis memory per live session twice: n sessions that
// all carry the same 120-byte browser User-Agent (the target's case: most
// users run one of a few browsers), then n/4 with a distinct one each (the
// worst case).
func printMemory(ctx context.Context, rdb *redis.Client, n int) error {
	same, err := memoryPerSession(ctx, rdb, "mem-a-", n, func(int) string { return browserUA })
	if err != nil {
		return err
	}
	distinct, err := memoryPerSession(ctx, rdb, "mem-b-", n/4, func(i int) string {
		s := strconv.Itoa(i)
		return browserUA[:len(browserUA)-len(s)] + s
	})
	if err != nil {
		return err
	}
	fmt.Printf("redis memory per live session (INFO used_memory growth, one session per existing account, IP 203.0.113.7, %d-byte User-Agent): "+
		"%.0f bytes over %d sessions sharing one User-Agent (target ≤ 300, stretch ≤ 200); %.0f bytes over %d sessions with a distinct User-Agent each\n",
		len(browserUA), same, n, distinct, n/4)
	return nil
}

// memoryPerSession creates n accounts, then one session for each the way
// login does, and divides Redis's used_memory growth over the sessions by n:
// the cost of a live session, its index entry included, on top of the
// account it belongs to.
func memoryPerSession(ctx context.Context, rdb *redis.Client, prefix string, n int, ua func(int) string) (float64, error) {
	now := time.Now
	roles := []string{"user"}
	users := utils.NewUsers(rdb, roles)
	hasher, err := utils.NewHasher(utils.Argon2Params{Memory: 1024, Time: 1, Threads: 1}, 1, time.Second, nil)
	if err != nil {
		return 0, err
	}
	hash, err := hasher.Hash(ctx, "not-measured")
	if err != nil {
		return 0, err
	}
	if err := parallel(n, func(i int) error { return users.Create(ctx, prefix+strconv.Itoa(i), hash, roles, now()) }); err != nil {
		return 0, err
	}
	before, err := usedMemory(ctx, rdb)
	if err != nil {
		return 0, err
	}
	codec := utils.NewJWT([]byte(secret), "jwt-demo", 15*time.Minute, 168*time.Hour, 720*time.Hour, now)
	store := utils.NewSessions(ctx, rdb, 50, 0, 720*time.Hour, now)
	err = parallel(n, func(i int) error {
		acct, err := users.Account(ctx, prefix+strconv.Itoa(i))
		if err != nil {
			return err
		}
		p, err := codec.Issue(acct.Name, uuid.NewString(), now(), acct.Roles, global.AMRPassword)
		if err != nil {
			return err
		}
		return store.Create(ctx, &p, utils.Client{IP: "203.0.113.7", UserAgent: ua(i)}, acct.Version)
	})
	if err != nil {
		return 0, err
	}
	after, err := usedMemory(ctx, rdb)
	return float64(after-before) / float64(n), err
}

// parallel runs f(0) … f(n-1) on 16 goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < n; i += 16 {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}
