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
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
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
	// SocketMode, when set, is the permission bits of the Unix socket
	// Listen names (default: as the umask leaves them).
	SocketMode os.FileMode
	// Workers is the number of worker processes. Default: one per CPU.
	// The primary also runs a standby worker, ready to take the place of
	// one that dies: Workers+2 processes in all.
	Workers int
	// Balance is "round-robin" (default) or "least-conn".
	Balance string
	// Host tunes the Wasm side of every worker: limits, guest config,
	// environment and mounts. Host.CompilationCacheDir is where compiled
	// code is kept across starts, shared by every server that uses the
	// same directory; default DefaultCacheDir(). Run sets Host.Metrics
	// in workers: their series reach the primary's /metrics.
	Host host.Config
	// PrivateCache compiles into a directory of this run's own, removed
	// at exit, instead of Host.CompilationCacheDir: every start compiles
	// the module again.
	PrivateCache bool
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
	// Admin, when set, is an address for the admin endpoints: /healthz
	// (live), /readyz (ready: serving and not draining), /workers (JSON)
	// and /metrics (Prometheus).
	Admin string
	// PIDFile, when set, is a file the primary writes its pid to while
	// it runs, for "wasmcluster reload" and "wasmcluster stop".
	PIDFile string
	// AccessLog logs a line for every request: method, path, status,
	// bytes, duration, worker and request id.
	AccessLog bool
	// Logger gets the log of every process. Default slog.Default().
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

// DefaultCacheDir is where compiled modules are kept when
// Host.CompilationCacheDir is not set: wasmcluster in the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache), or "" if there is none.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wasmcluster")
}

// Run serves the cluster until ctx is done or the process gets SIGTERM or
// SIGINT, then drains and returns nil. SIGHUP reloads the module: a new
// generation of workers takes over once it serves, and a module that does
// not load leaves the old one serving. In a worker process, Run serves
// the connections its primary hands it. The primary also runs the program
// again to check each module it is given; in such a process Run checks
// and exits, never returning.
//
// The primary listens, on Listen and Admin, before it checks the
// module, so that a busy address fails at once; a SIGTERM while it starts
// returns nil, and a SIGHUP then is applied once it serves.
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

// Compile compiles the module into the compilation cache, as Run would
// at start, so that a server started later finds it there.
func Compile(ctx context.Context, cfg Config) (cacheDir string, err error) {
	if cfg.Host.CompilationCacheDir == "" {
		cfg.Host.CompilationCacheDir = DefaultCacheDir()
	}
	if cfg.Host.CompilationCacheDir == "" {
		return "", errors.New("no cache directory: set one (--cache-dir), or $HOME or $XDG_CACHE_HOME")
	}
	if isCheck() { // the check process Compile runs, as Run's
		os.Exit(runCheck(ctx, cfg))
	}
	dir, err := makePrivateDir()
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	copies := &moduleCopies{dir: dir}
	if _, err := copies.check(ctx, cfg, true); err != nil {
		return "", err
	}
	return cfg.Host.CompilationCacheDir, nil
}

func runPrimary(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	// From now on SIGTERM, SIGINT and SIGHUP are this function's to handle,
	// also while it starts.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	balancer, err := dispatcher.ParseBalancer(cfg.Balance)
	if err != nil {
		return err
	}
	if _, err := tlsConfig(cfg); err != nil {
		return err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = ":8080"
	}
	ln, err := dispatcher.Listen(listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if err := setSocketMode(ln, cfg.SocketMode); err != nil {
		return err
	}
	metrics := newPrimaryMetrics()
	admin := &adminServer{metrics: metrics}
	if cfg.Admin != "" {
		stop, err := admin.serve(cfg.Admin, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.PIDFile != "" {
		if err := writePIDFile(cfg.PIDFile); err != nil {
			return err
		}
		defer removePIDFile(cfg.PIDFile)
	}

	dir, err := makePrivateDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.Host.CompilationCacheDir == "" && !cfg.PrivateCache {
		cfg.Host.CompilationCacheDir = DefaultCacheDir()
		if cfg.Host.CompilationCacheDir == "" {
			log.Warn("no user cache directory ($HOME, $XDG_CACHE_HOME); compiling into a private one")
		}
	}
	if cfg.PrivateCache || cfg.Host.CompilationCacheDir == "" {
		cfg.Host.CompilationCacheDir = filepath.Join(dir, "cache")
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// Open the stores once before any worker: a bad URL fails now, and
	// an embedded store's file is set up before workers share it.
	if _, opened, err := openStores(ctx, cfg, log); err != nil {
		return err
	} else if err := closeStores(opened); err != nil {
		return err
	}
	// Compile first: a bad module fails now, before any worker starts,
	// and the workers find the compiled code in the cache.
	started := time.Now()
	copies := &moduleCopies{dir: dir}
	first, err := interruptible(ctx, func() (string, error) { return copies.check(ctx, cfg, false) })
	if ctx.Err() != nil {
		log.Info("stopped while starting")
		return nil
	}
	if err != nil {
		return err
	}
	copies.keep(first)
	log.Info("module ready; starting the workers", "module", cfg.Module, "took", time.Since(started).Round(time.Millisecond).String(),
		"cache", cfg.Host.CompilationCacheDir, "workers", workers, "standby", 1, "processes", workers+2)

	p := dispatcher.NewPrimary(dispatcher.Options{
		Workers:      cfg.Workers,
		Balancer:     balancer,
		DrainTimeout: cfg.DrainTimeout,
		Logger:       log,
		Reports:      metrics.workers,
		Env:          []string{envCacheDir + "=" + cfg.Host.CompilationCacheDir, envModuleCopy + "=" + first},
		ParkTimeout:  cfg.ParkTimeout,
		BusyReply:    busyReply(cfg),
	})
	admin.setPrimary(p)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			select {
			case <-p.Serving():
			default:
				log.Info("reload asked for while starting; it follows once the workers serve")
				select {
				case <-p.Serving():
				case <-ctx.Done():
					return
				}
			}
			reload(ctx, cfg, p, copies, metrics)
		}
	}()

	log.Info("listening", "addr", ln.Addr().String(), "module", cfg.Module)
	err = p.Serve(ctx, ln)
	if err != nil && ctx.Err() != nil {
		log.Info("stopped while starting")
		return nil
	}
	return err
}

// interruptible runs fn, but returns at once, with ctx's error, when ctx
// is done first; fn then finishes on its own.
func interruptible[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// setSocketMode sets the permission bits of a Unix socket's file.
func setSocketMode(ln net.Listener, mode os.FileMode) error {
	addr, ok := ln.Addr().(*net.UnixAddr)
	if !ok || mode == 0 {
		return nil
	}
	if err := os.Chmod(addr.Name, mode); err != nil {
		return fmt.Errorf("socket mode: %w", err)
	}
	return nil
}

// reload answers SIGHUP: check the module again, then swap generations.
func reload(ctx context.Context, cfg Config, p *dispatcher.Primary, copies *moduleCopies, m *primaryMetrics) {
	log := cfg.Logger
	log.Info("reloading", "module", cfg.Module)
	path, err := copies.check(ctx, cfg, false)
	if err != nil {
		m.reloads.WithLabelValues("refused").Inc()
		log.Error("reload refused; the old workers keep serving", "error", err)
		return
	}
	if err := p.Reload(ctx, envModuleCopy+"="+path); err != nil {
		m.reloads.WithLabelValues("failed").Inc()
		log.Error("reload failed; the old workers keep serving", "error", err)
		copies.drop(path)
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
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

// check reads the module and returns the path of a copy of what it
// read, once it passed its check: loaded as a worker would, in a check
// process (see modcheck.go) — unless the cache records that it passed
// before (see checkmark.go) and recheck is false.
func (m *moduleCopies) check(ctx context.Context, cfg Config, recheck bool) (string, error) {
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
	mark := markFor(cfg, wasm)
	if !recheck && mark.passed() {
		cfg.Logger.Info("module passed its check before; not checked again", "module", cfg.Module)
		return path, nil
	}
	if err := checkInChild(ctx, cfg, path); err != nil {
		m.drop(path)
		return "", fmt.Errorf("load module %s: %w", cfg.Module, err)
	}
	mark.record()
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
