package initialize

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/metrics"
	"go-jwt/middleware"
	"go-jwt/utils/logbuf"
)

// Run is the whole service: read the configuration from getenv, connect to
// Redis, build the router and serve it under endless until SIGTERM or SIGINT
// (SIGHUP hands the socket to a new process and this one drains and ends).
func Run(getenv func(string) string, stderr io.Writer) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	tuneGC(getenv)
	// The access log is buffered (at most a second of it is lost on a
	// crash; none on a clean stop); every other line is written at once.
	out := logbuf.New(stderr, logbuf.DefaultSize)
	flushCtx, stopFlushing := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() { out.Run(flushCtx, time.Second); close(flushed) }()
	defer func() { stopFlushing(); <-flushed }() // the last flush
	log := slog.New(middleware.NewLogHandler(cfg.Release, out.Immediate(), out))
	slog.SetDefault(log) // endless and net/http log through it too
	flush := func() { _ = out.Flush() }
	if cfg.Release {
		gin.SetMode(gin.ReleaseMode)
	}
	if cfg.SecretGenerated {
		log.Warn("JWT_SECRET is not set: using a random per-process key; tokens stop working when the process ends (and on a SIGHUP restart)")
	}
	if cfg.DataKeyGenerated {
		log.Warn("DATA_KEY is not set: using a random per-process key; TOTP secrets stored now cannot be read after the process ends (and on a SIGHUP restart: two-factor logins then fail with 503)")
	}
	m := metrics.New()
	rdb, closeRedis, err := NewRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	rdb.AddHook(m.RedisHook())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the session store's batch workers
	router, err := Router(ctx, cfg, rdb, log, m, time.Now)
	if err != nil {
		return err
	}
	for addr, side := range sideListeners(cfg, m) {
		go func() {
			if err := Serve(global.Config{Addr: addr}, side.handler, side.limits, log, flush); err != nil {
				log.Error("side listener failed", "addr", addr, "err", err.Error())
			}
		}()
	}
	return Serve(cfg, router, serverLimits, log, flush)
}

// sideListener is a listener besides the main one: what it serves, and its
// connections' time limits.
type sideListener struct {
	handler http.Handler
	limits  connLimits
}

// sideListeners are the listeners besides the main one: /metrics on
// METRICS_ADDR and pprof on PPROF_ADDR, each only when configured. They are
// endless servers too, so a SIGHUP restart hands their sockets over as well.
// pprof's requests may last longer (pprofLimits): a profile takes as long as
// it was asked to.
func sideListeners(cfg global.Config, m *metrics.Metrics) map[string]sideListener {
	out := map[string]sideListener{}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		out[cfg.MetricsAddr] = sideListener{mux, serverLimits}
	}
	if cfg.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		out[cfg.PprofAddr] = sideListener{mux, pprofLimits}
	}
	return out
}
