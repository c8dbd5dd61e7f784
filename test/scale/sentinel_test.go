package scale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/test/proc"
)

// Sentinel settings of the test (docs/SCALING.md): a master is down after
// one second without an answer, and two of three sentinels must agree.
const (
	masterName    = "mymaster"
	downAfterMS   = 1000
	failoverMS    = 5000
	failoverBound = 20 * time.Second // kill → the service answers 200 again (one election retry included)
)

// sentinelSet is a master, its replica and three sentinels watching them.
type sentinelSet struct {
	master, replica *proc.Redis
	sentinels       []*proc.Redis
}

// startSentinels starts the set and waits until every sentinel knows the
// replica and the two other sentinels (they find each other through the
// master's hello channel, every 2 s): only then can a failover reach quorum.
//
// The master refuses writes unless a replica is connected and acknowledged
// within 10 s (min-replicas-to-write 1): an acknowledged login was at least
// sent to a live replica. The replica has no such setting, so once promoted
// it accepts writes alone (docs/SCALING.md says why and what to run instead).
func startSentinels(t *testing.T) *sentinelSet {
	t.Helper()
	s := &sentinelSet{}
	s.master = startRedis(t, "master", "", "--save", "", "--appendonly", "no",
		"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10", "--repl-diskless-sync-delay", "0")
	s.replica = startRedis(t, "replica", "", "--save", "", "--appendonly", "no",
		"--replicaof", "127.0.0.1", fmt.Sprint(s.master.Port()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mc := s.master.Client()
	waitFor(t, 10*time.Second, "replica in sync and counted as good", func() (bool, string) {
		info, err := mc.Info(ctx, "replication").Result()
		return err == nil && infoField(info, "min_slaves_good_slaves") == "1", info
	})
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
		"sentinel down-after-milliseconds %[1]s %[3]d\n"+
		"sentinel failover-timeout %[1]s %[4]d\n"+
		"sentinel parallel-syncs %[1]s 1\n", masterName, s.master.Port(), downAfterMS, failoverMS)
	for range 3 {
		s.sentinels = append(s.sentinels, startRedis(t, "sentinel", conf, "--sentinel"))
	}
	for _, sp := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sp.Addr})
		t.Cleanup(func() { _ = sc.Close() })
		waitFor(t, 15*time.Second, "sentinel "+sp.Addr+" ready", func() (bool, string) {
			m, err := sc.Master(ctx, masterName).Result()
			return err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1", fmt.Sprint(m, err)
		})
	}
	return s
}

// sample is one answer seen under load.
type sample struct {
	start, end time.Time
	status     int // 0: no HTTP answer
	err        string
	login      *proc.Pair // a login's pair, when it got one
}

// recorder keeps every sample of the load.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *recorder) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.samples)
	slices.SortFunc(out, func(a, b sample) int { return a.end.Compare(b.end) })
	return out
}

// TestSentinelFailover kills the master (SIGKILL) while 8 clients call
// /user/welcome and one logs in again and again, with the service on the
// sentinels (REDIS_ADDRS, REDIS_MASTER_NAME). During the failover every
// answer is 503, never 401 or 500; the service finds the new master by
// itself within failoverBound; sessions issued before the kill still work;
// logins acknowledged under load are counted if lost. The figures go to the
// test log (docs/SCALING.md quotes them).
func TestSentinelFailover(t *testing.T) {
	set := startSentinels(t)
	var sentinelAddrs []string
	for _, sp := range set.sentinels {
		sentinelAddrs = append(sentinelAddrs, sp.Addr)
	}
	vars := serviceEnv(t, proc.RandomHex(t, 32))
	vars["REDIS_ADDRS"] = strings.Join(sentinelAddrs, ",")
	vars["REDIS_MASTER_NAME"] = masterName
	svc := startService(t, "service", vars)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	c := newClient(t, ctx)
	creds := url.Values{"username": {svc.user}, "password": {svc.pass}}

	// Sessions issued well before the kill: one per load client, and more
	// that only the final check uses.
	const clients = 8
	var before []proc.Pair
	for range clients + 12 {
		before = append(before, c.login(svc, svc.user, svc.pass))
	}

	rec := &recorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients + 1}}
	defer hc.CloseIdleConnections()
	run := func(method, path, bearer string, form url.Values, pause time.Duration) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			s := sample{start: time.Now()}
			a, err := proc.Call(ctx, hc, method, svc.base+path, bearer, form)
			s.end, s.status = time.Now(), a.Status
			if err != nil {
				s.err = err.Error()
			}
			if form != nil && a.Status == http.StatusOK {
				var p proc.Pair
				if json.Unmarshal([]byte(a.Body), &p) != nil || p.Access == "" {
					s.err = "login answer without a pair: " + a.Body
				}
				s.login = &p
			}
			rec.add(s)
			time.Sleep(pause)
		}
	}
	for i := range clients {
		wg.Add(1)
		go run(http.MethodGet, "/user/welcome", before[i].Access, nil, 10*time.Millisecond)
	}
	wg.Add(1)
	go run(http.MethodPost, "/public/login", "", creds, 30*time.Millisecond)

	// The replica's own view: when it became master.
	promoted := make(chan time.Time, 1)
	rc := set.replica.Client()

	time.Sleep(time.Second)
	killed := time.Now()
	set.master.Kill()
	go func() {
		for ctx.Err() == nil {
			if info, err := rc.Info(ctx, "replication").Result(); err == nil && infoField(info, "role") == "master" {
				promoted <- time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// Wait for recovery: a welcome that started after the kill answered 200
	// and every client has seen 200 since; then one more second of load.
	var recovered time.Time
	waitFor(t, failoverBound, "recovered after the master was killed", func() (bool, string) {
		seen := map[bool]int{}
		for _, s := range rec.all() {
			if s.start.After(killed) && s.status == http.StatusOK && s.login == nil {
				if recovered.IsZero() {
					recovered = s.end
				}
				seen[true]++
			}
		}
		return seen[true] >= clients, fmt.Sprintf("%d answers of 200 since the kill", seen[true])
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// Every answer was 200 or 503, and 503 only between the kill and the
	// recovery.
	var first503, last503, firstOK time.Time
	var n503, n200, loginsBefore int
	var acked []sample // logins answered 200 before the kill
	for _, s := range rec.all() {
		switch {
		case s.err != "" || s.status == 0:
			t.Errorf("no proper answer at kill%+v: %d %s", s.end.Sub(killed), s.status, s.err)
		case s.status == http.StatusServiceUnavailable:
			n503++
			if s.end.Before(killed) {
				t.Errorf("503 before the kill, at %v", killed.Sub(s.end))
			}
			if first503.IsZero() {
				first503 = s.end
			}
			last503 = s.end
		case s.status == http.StatusOK:
			n200++
			if !first503.IsZero() && firstOK.IsZero() && s.start.After(first503) {
				firstOK = s.end
			}
			if s.login != nil && s.end.Before(killed) {
				acked = append(acked, s)
				loginsBefore++
			}
		default:
			t.Errorf("status %d at %v after the kill: only 200 and 503 are allowed", s.status, s.end.Sub(killed))
		}
	}
	if first503.IsZero() {
		t.Fatal("no 503 after the kill: the load did not reach Redis")
	}
	if last503.After(firstOK.Add(2 * time.Second)) {
		t.Errorf("503s went on %v after the first 200: the service did not settle on the new master", last503.Sub(firstOK))
	}

	// After the failover: sessions issued before the kill still work, and
	// the new master takes writes (login, refresh, logout).
	for i, p := range before {
		c.welcome(svc, p.Access, http.StatusOK)
		if i == 0 {
			next := c.refresh(svc, p)
			c.welcome(svc, next.Access, http.StatusOK)
			c.do(http.StatusOK, http.MethodPost, svc.base+"/user/logout", next.Access, nil)
			c.welcome(svc, next.Access, http.StatusUnauthorized)
		}
	}
	fresh := c.login(svc, svc.user, svc.pass)
	c.welcome(svc, fresh.Access, http.StatusOK)

	// Logins acknowledged under load before the kill: each one lost by the
	// asynchronous replication now answers 401.
	var lost []time.Duration
	closest := time.Duration(-1) // the last acknowledged login before the kill
	for _, s := range acked {
		if d := killed.Sub(s.end); closest < 0 || d < closest {
			closest = d
		}
		a, err := proc.Call(ctx, c.c, http.MethodGet, svc.base+"/user/welcome", s.login.Access, nil)
		switch {
		case err != nil:
			t.Fatalf("welcome after the failover: %v", err)
		case a.Status == http.StatusUnauthorized:
			lost = append(lost, killed.Sub(s.end))
		case a.Status != http.StatusOK:
			t.Errorf("login acknowledged before the kill: welcome %v", a)
		}
	}
	for _, d := range lost {
		if d > 100*time.Millisecond {
			t.Errorf("a login acknowledged %v before the kill was lost: replication lags", d)
		}
	}

	var switched []string // when each sentinel published +switch-master
	for _, sp := range set.sentinels {
		switched = append(switched, switchMasterAt(sp, killed))
	}

	var promotedAt string
	select {
	case p := <-promoted:
		promotedAt = p.Sub(killed).Round(time.Millisecond).String()
	default:
		promotedAt = "not seen"
	}
	t.Logf("failover figures: kill→first 503 %v; kill→replica promoted %s; kill→+switch-master per sentinel %v; kill→first 200 %v; "+
		"first 503→first 200 %v; last 503 at kill+%v; answers 200: %d, 503: %d; "+
		"logins acknowledged under load before the kill: %d (the last %v before it), lost: %d %v; sessions issued before the load: %d, all kept",
		first503.Sub(killed).Round(time.Millisecond), promotedAt, switched, recovered.Sub(killed).Round(time.Millisecond),
		firstOK.Sub(first503).Round(time.Millisecond), last503.Sub(killed).Round(time.Millisecond), n200, n503,
		loginsBefore, closest.Round(time.Microsecond), len(lost), lost, len(before))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the test ran out of time")
	}
}

// switchMasterAt reads from a sentinel's log when it switched to the new
// master, as a duration since killed ("-" when it did not).
func switchMasterAt(sp *proc.Redis, killed time.Time) string {
	b, err := os.ReadFile(sp.LogPath())
	if err != nil {
		return "-"
	}
	for _, l := range lines(string(b), "+switch-master") {
		// 1234:X 26 Nov 2026 17:09:06.923 # +switch-master mymaster …
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		at, err := time.ParseInLocation("2 Jan 2006 15:04:05.000", strings.Join(f[1:5], " "), time.Local)
		if err == nil {
			return at.Sub(killed).Round(time.Millisecond).String()
		}
	}
	return "-"
}

// TestMinReplicasRefusesWritesWithoutReplica shows the price of
// min-replicas-to-write 1 (the setting TestSentinelFailover's master runs
// with): with no replica connected, Redis refuses every write, so login,
// refresh and logout answer 503 while tokens already issued keep working
// (checking one only reads).
func TestMinReplicasRefusesWritesWithoutReplica(t *testing.T) {
	master := startRedis(t, "master", "", "--save", "", "--appendonly", "no",
		"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10", "--repl-diskless-sync-delay", "0")
	replica := startRedis(t, "replica", "", "--save", "", "--appendonly", "no",
		"--replicaof", "127.0.0.1", fmt.Sprint(master.Port()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mc := master.Client()
	waitFor(t, 10*time.Second, "replica counted as good", func() (bool, string) {
		info, err := mc.Info(ctx, "replication").Result()
		return err == nil && infoField(info, "min_slaves_good_slaves") == "1", info
	})
	vars := serviceEnv(t, proc.RandomHex(t, 32))
	vars["REDIS_ADDR"] = master.Addr
	svc := startService(t, "service", vars)
	c := newClient(t, ctx)
	p := c.login(svc, svc.user, svc.pass)

	replica.Kill()
	waitFor(t, 5*time.Second, "replica gone", func() (bool, string) {
		info, err := mc.Info(ctx, "replication").Result()
		return err == nil && infoField(info, "min_slaves_good_slaves") == "0", info
	})
	c.welcome(svc, p.Access, http.StatusOK)
	creds := url.Values{"username": {svc.user}, "password": {svc.pass}}
	c.do(http.StatusServiceUnavailable, http.MethodPost, svc.base+"/public/login", "", creds)
	c.do(http.StatusServiceUnavailable, http.MethodPost, svc.base+"/public/refresh", p.Refresh, nil)
	c.do(http.StatusServiceUnavailable, http.MethodPost, svc.base+"/user/logout", p.Access, nil)
	c.welcome(svc, p.Access, http.StatusOK)
}
