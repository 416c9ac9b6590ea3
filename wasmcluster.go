// Package wasmcluster serves a WebAssembly HTTP handler on every core: a
// primary process owns the listening socket and hands each connection to
// one of its worker processes, each of which runs the handler with the
// host package.
//
// A program that embeds the cluster calls Run first thing in main. In the
// primary, Run starts the workers by running the same program again; in
// each of those, the same call to Run finds it is a worker and serves —
// the moment a Node program asks cluster.isPrimary:
//
//	func main() {
//		ctx := context.Background()
//		if err := wasmcluster.Run(ctx, wasmcluster.Config{Module: "hello.wasm"}); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// So everything before Run runs in every process, and the Config must come
// out the same in all of them.
package wasmcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wasmcluster/wasmcluster/dispatcher"
	"github.com/wasmcluster/wasmcluster/host"
)

// Config describes a cluster. Zero fields take the defaults in their
// comments.
type Config struct {
	// Module is the path of the handler module. The primary reads it at
	// start and again on reload (SIGHUP); workers load the copy the
	// primary checked, so a file changed meanwhile reaches them only
	// through a reload.
	Module string
	// Wasm, when set, is the handler module itself, used in place of
	// reading Module: a program can embed its guest (go:embed). Module
	// then only names it in the log.
	Wasm []byte
	// Listen is the address to serve: "host:port" (default ":8080"),
	// "unix:/path", or "systemd" for socket activation.
	Listen string
	// Workers is the number of worker processes. Default: one per CPU.
	Workers int
	// Balance is "round-robin" (default) or "least-conn".
	Balance string
	// Host tunes the Wasm side of every worker: limits, guest config,
	// environment and mounts.
	Host host.Config
	// TLSCert and TLSKey are PEM files; when set, workers serve HTTPS
	// (and HTTP/2).
	TLSCert, TLSKey string
	// DrainTimeout bounds a drain on SIGTERM or SIGINT, and the drain of
	// the old workers on reload. Default 30s.
	DrainTimeout time.Duration
	// Client timeouts of every worker: HeaderTimeout bounds the reading
	// of a request's header (default 10s), ReadTimeout that of the whole
	// request, body included (default 60s), WriteTimeout each write of a
	// response, which the client must take some of within it (default
	// 30s), and IdleTimeout the wait for the next request on a keep-alive
	// connection (default 2m). The handler never waits on the client:
	// bodies are read before it runs, responses written after it returns.
	HeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ParkTimeout bounds how long the primary holds a connection that no
	// worker can take; then the client gets 503 (with TLS, a closed
	// connection). Default 5s.
	ParkTimeout time.Duration
	// Admin, when set, is an address for the admin endpoints: /healthz,
	// /workers (JSON) and /metrics (Prometheus text).
	Admin string
	// Logger gets the log. Default slog.Default().
	Logger *slog.Logger

	// KV are key-value stores for the guests, by name to URL (see
	// OpenStore): every worker opens them and adds them to Host.KV.
	// None by default; the command line gives "default" an embedded one.
	KV map[string]string
	// KVQuota bounds each embedded store's bytes (0: the default of
	// kv/sqlite; negative: none).
	KVQuota int64
}

// The primary tells its workers where its compilation cache is, and which
// copy of the module to load: the one it checked for their generation.
const (
	envCacheDir   = "WASMCLUSTER_CACHE_DIR"
	envModuleCopy = "WASMCLUSTER_MODULE_COPY"
)

// IsWorker reports whether this process is a worker of a cluster.
func IsWorker() bool { return dispatcher.IsWorker() }

// Run serves the cluster until ctx is done or the process gets SIGTERM or
// SIGINT, then drains and returns nil. SIGHUP reloads the module: a new
// generation of workers takes over once it serves, and a module that does
// not load leaves the old one serving. In a worker process, Run serves
// the connections its primary hands it. The primary also runs the program
// again to check each module it is given; in such a process Run checks
// and exits, never returning.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.Module == "" && cfg.Wasm == nil {
		return errors.New("no module to serve")
	}
	if isCheck() {
		os.Exit(runCheck(ctx, cfg))
	}
	if IsWorker() {
		return runWorker(ctx, cfg)
	}
	return runPrimary(ctx, cfg)
}

func runPrimary(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	balancer, err := dispatcher.ParseBalancer(cfg.Balance)
	if err != nil {
		return err
	}
	if _, err := tlsConfig(cfg); err != nil {
		return err
	}
	dir, err := makePrivateDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.Host.CompilationCacheDir == "" {
		cfg.Host.CompilationCacheDir = filepath.Join(dir, "cache")
	}
	// Open the stores once before any worker: a bad URL fails now, and
	// an embedded store's file is set up before workers share it.
	if _, opened, err := openStores(ctx, cfg, log); err != nil {
		return err
	} else if err := closeStores(opened); err != nil {
		return err
	}
	// Check first: a bad module fails now, before any worker starts,
	// and the workers find the compiled code in the cache the check
	// filled.
	copies := &moduleCopies{dir: dir}
	first, err := copies.check(ctx, cfg)
	if err != nil {
		return err
	}
	copies.keep(first)
	listen := cfg.Listen
	if listen == "" {
		listen = ":8080"
	}
	ln, err := dispatcher.Listen(listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	p := dispatcher.NewPrimary(dispatcher.Options{
		Workers:      cfg.Workers,
		Balancer:     balancer,
		DrainTimeout: cfg.DrainTimeout,
		Logger:       log,
		Env:          []string{envCacheDir + "=" + cfg.Host.CompilationCacheDir, envModuleCopy + "=" + first},
		ParkTimeout:  cfg.ParkTimeout,
		BusyReply:    busyReply(cfg),
	})
	if cfg.Admin != "" {
		stop, err := serveAdmin(cfg.Admin, p, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx, cfg, p, copies)
			}
		}
	}()

	log.Info("listening", "addr", ln.Addr().String(), "module", cfg.Module)
	return p.Serve(ctx, ln)
}

// reload answers SIGHUP: check the module again, then swap generations.
func reload(ctx context.Context, cfg Config, p *dispatcher.Primary, copies *moduleCopies) {
	log := cfg.Logger
	log.Info("reloading", "module", cfg.Module)
	path, err := copies.check(ctx, cfg)
	if err != nil {
		log.Error("reload refused; the old workers keep serving", "error", err)
		return
	}
	if err := p.Reload(ctx, envModuleCopy+"="+path); err != nil {
		log.Error("reload failed; the old workers keep serving", "error", err)
		copies.drop(path)
		return
	}
	copies.keep(path)
}

// moduleCopies keeps, in the primary's private directory, the copy of the
// module each generation of workers loads: a worker replaced later loads
// what its generation was checked with, whatever became of the file.
type moduleCopies struct {
	dir     string
	n       int
	current string
}

// check reads the module, loads it as a worker would in a check process
// (see modcheck.go), and returns the path of a copy of what it read.
func (m *moduleCopies) check(ctx context.Context, cfg Config) (string, error) {
	wasm := cfg.Wasm
	if wasm == nil {
		var err error
		if wasm, err = os.ReadFile(cfg.Module); err != nil {
			return "", fmt.Errorf("load module: %w", err)
		}
	}
	m.n++
	path := copyPath(m.dir, m.n)
	if err := os.WriteFile(path, wasm, 0o400); err != nil {
		return "", fmt.Errorf("copy module: %w", err)
	}
	if err := checkInChild(ctx, cfg, path); err != nil {
		m.drop(path)
		return "", fmt.Errorf("load module %s: %w", cfg.Module, err)
	}
	return path, nil
}

// keep makes path the current copy and removes the one before, whose
// workers all loaded it already.
func (m *moduleCopies) keep(path string) {
	if m.current != "" {
		m.drop(m.current)
	}
	m.current = path
}

// drop removes a copy no worker will load.
func (m *moduleCopies) drop(path string) { _ = os.Remove(path) }

func runWorker(ctx context.Context, cfg Config) error {
	log := cfg.Logger.With("worker", dispatcher.WorkerID(), "pid", os.Getpid())
	hostCfg := cfg.Host
	if dir := os.Getenv(envCacheDir); dir != "" {
		hostCfg.CompilationCacheDir = dir
	}
	if hostCfg.Logger == nil {
		hostCfg.Logger = log
	}
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
	defer h.Close(context.Background())
	return dispatcher.ServeWorker(ctx, h, dispatcher.WorkerOptions{
		TLSConfig:           tc,
		DrainTimeout:        cfg.DrainTimeout,
		Logger:              log,
		ReadHeaderTimeout:   cfg.HeaderTimeout,
		ReadTimeout:         cfg.ReadTimeout,
		WriteTimeout:        cfg.WriteTimeout,
		IdleTimeout:         cfg.IdleTimeout,
		MaxBufferedBody:     max(cfg.Host.MaxRequestBody, 0),  // no limit: the default read-ahead
		MaxBufferedResponse: max(cfg.Host.MaxResponseBody, 0), // no limit: the default hold-back
	})
}

// busyReply is what a connection no worker took in time gets: the
// dispatcher's 503, or, with TLS, nothing before the close.
func busyReply(cfg Config) []byte {
	if cfg.TLSCert != "" {
		return []byte{}
	}
	return nil
}

// tlsConfig loads the certificate, or returns nil when there is none.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// serveAdmin serves the admin endpoints on addr until stop is called.
func serveAdmin(addr string, p *dispatcher.Primary, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	srv := &http.Server{Handler: adminHandler(p), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("admin endpoints", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
