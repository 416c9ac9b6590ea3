package wasmcluster

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/wasmcluster/wasmcluster/dispatcher"
	"github.com/wasmcluster/wasmcluster/host"
)

// runWorker serves the module in a worker process: the host package's
// handler behind the request log, and the worker's metrics reported to
// the primary.
func runWorker(ctx context.Context, cfg Config) error {
	log := slog.New(slotHandler{cfg.Logger.Handler()}).With("pid", os.Getpid())
	hostCfg := cfg.Host
	if dir := os.Getenv(envCacheDir); dir != "" {
		hostCfg.CompilationCacheDir = dir
	}
	if hostCfg.Logger == nil {
		hostCfg.Logger = log
	}
	setMemoryLimit(hostCfg)
	reg := prometheus.NewRegistry()
	hostCfg.Metrics = reg
	tc, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	module := cfg.Module
	if path := os.Getenv(envModuleCopy); path != "" {
		module = path
	}
	stores, opened, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStores(opened)
	hostCfg.KV = stores
	h, err := host.Load(ctx, module, hostCfg)
	if err != nil {
		return err
	}
	defer func() {
		// The drain is over: a guest still running is interrupted, and the
		// worker exits once it has stopped, or at the drain's bound.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
		defer cancel()
		_ = h.Close(ctx)
	}()
	return dispatcher.ServeWorker(ctx, withRequestLog(h, log, cfg.AccessLog, reg), dispatcher.WorkerOptions{
		TLSConfig:           tc,
		DrainTimeout:        cfg.DrainTimeout,
		Logger:              log,
		Report:              reporter(reg, log),
		ReadHeaderTimeout:   cfg.HeaderTimeout,
		ReadTimeout:         cfg.ReadTimeout,
		WriteTimeout:        cfg.WriteTimeout,
		IdleTimeout:         cfg.IdleTimeout,
		MaxBufferedBody:     max(cfg.Host.MaxRequestBody, 0),  // no limit: the default read-ahead
		MaxBufferedResponse: max(cfg.Host.MaxResponseBody, 0), // no limit: the default hold-back
	})
}

// workerHeapBase is the Go heap a worker needs for itself, beyond what
// its guests make it hold (host.Config.HeapBound).
const workerHeapBase = 64 << 20

// setMemoryLimit gives the worker's Go runtime a memory limit derived
// from cfg, unless GOMEMLIMIT sets one: the collector then runs before
// the heap passes what the guests may hold, where by GOGC alone it would
// let garbage (old copies of a growing stack, finished bodies) reach
// twice what is live. Bodies without a limit leave the worker without
// one.
func setMemoryLimit(cfg host.Config) {
	if bound := cfg.HeapBound(); bound >= 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(workerHeapBase + bound)
	}
}

// reporter returns the worker's report to the primary: everything reg
// holds, in the Prometheus protobuf format.
func reporter(reg *prometheus.Registry, log *slog.Logger) func() []byte {
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	warned := false
	return func() []byte {
		families, err := reg.Gather()
		buf.Reset()
		enc := expfmt.NewEncoder(&buf, format)
		for _, mf := range families {
			if err == nil {
				err = enc.Encode(mf)
			}
		}
		if err != nil {
			if !warned {
				log.Warn("metrics not reported", "error", err)
				warned = true
			}
			return nil
		}
		return buf.Bytes()
	}
}

// slotHandler adds the worker's slot to every record, as it is when the
// record is made: a standby worker takes a slot when a worker dies.
type slotHandler struct{ slog.Handler }

// Handle adds the worker attribute and passes the record on.
func (s slotHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.Int("worker", dispatcher.WorkerID()))
	return s.Handler.Handle(ctx, r)
}

// WithAttrs keeps the slot on records of the new handler.
func (s slotHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return slotHandler{s.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the slot on records of the new handler.
func (s slotHandler) WithGroup(name string) slog.Handler {
	return slotHandler{s.Handler.WithGroup(name)}
}
