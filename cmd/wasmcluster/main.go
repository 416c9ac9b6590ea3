// Command wasmcluster serves a WebAssembly HTTP handler on every core.
//
//	wasmcluster serve [flags] HANDLER.wasm
//
// Run "wasmcluster serve --help" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/dispatcher"
	"github.com/wasmcluster/wasmcluster/host"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `wasmcluster serves a WebAssembly HTTP handler on every core: a primary
process owns the socket and hands each connection to one of its worker
processes, each running the handler.

Usage:
  wasmcluster serve [flags] HANDLER.wasm
  wasmcluster version

Example:
  wasmcluster serve --listen :8080 --admin 127.0.0.1:9090 hello.wasm
  curl localhost:8080/hi            # the handler answers
  kill -HUP <primary pid>           # reload hello.wasm, no request dropped
  kill -TERM <primary pid>          # drain and exit

HANDLER.wasm is an http-wasm handler (exports handle_request), or a WASI
command (exports _start) run once per request, CGI style.
`

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run executes the command line and returns the exit status: 0, 1 for a
// failure, 2 for a usage error.
func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case err != nil:
			fmt.Fprintf(stderr, "wasmcluster: %v\nRun 'wasmcluster serve --help' for usage.\n", err)
			return 2
		}
		if err := wasmcluster.Run(context.Background(), cfg); err != nil {
			fmt.Fprintf(stderr, "wasmcluster: %v\n", err)
			return 1
		}
		return 0
	case "version":
		fmt.Fprintln(stderr, "wasmcluster", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wasmcluster: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseServe turns the serve flags into a Config.
func parseServe(args []string, stderr io.Writer) (wasmcluster.Config, error) {
	var cfg wasmcluster.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	fs.Usage = func() {}
	var (
		maxMemory = sizeFlag(host.DefaultMaxMemory)
		maxBody   = sizeFlag(host.DefaultMaxRequestBody)
		env       = listFlag{}
		dirs      = listFlag{}
		config    string
		mode      string
		logLevel  string
	)
	fs.StringVar(&cfg.Listen, "listen", ":8080", "`address` to serve: host:port, unix:/path, or systemd (socket activation)")
	fs.IntVar(&cfg.Workers, "workers", 0, "worker processes (default: one per CPU)")
	fs.StringVar(&cfg.Balance, "balance", "round-robin", "how connections are spread: round-robin or least-conn")
	fs.DurationVar(&cfg.Host.Timeout, "timeout", host.DefaultTimeout, "longest a request may run in the handler; then 504")
	fs.Var(&maxMemory, "max-memory", "linear memory per handler instance, e.g. 64MiB")
	fs.Var(&maxBody, "max-body", "largest request body, e.g. 10MB; larger gets 413")
	fs.IntVar(&cfg.Host.MaxInstances, "instances", 0, "handler instances per worker: requests it runs at once; more wait (default 4)")
	fs.Var(&env, "env", "`KEY=VALUE` in the handler's environment (repeatable)")
	fs.Var(&dirs, "dir", "`HOST[:GUEST]` directory the handler may read (repeatable)")
	fs.StringVar(&config, "config", "", "`file` whose bytes the handler reads with get_config")
	fs.StringVar(&mode, "mode", "auto", "handler kind: auto, handler (http-wasm) or cgi (WASI command)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate `file`; with --tls-key, serve HTTPS and HTTP/2")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key `file`")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 30*time.Second, "longest a drain (SIGTERM, reload) waits for requests in flight")
	fs.StringVar(&cfg.Admin, "admin", "", "`address` for /healthz, /workers and /metrics (e.g. 127.0.0.1:9090)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage+"\nFlags of serve:\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return cfg, fmt.Errorf("%w: serve takes one HANDLER.wasm, got %d arguments", errUsage, fs.NArg())
	}
	cfg.Module = fs.Arg(0)
	cfg.Host.MaxMemory = uint64(maxMemory)
	cfg.Host.MaxRequestBody = int64(maxBody)

	var err error
	if _, err = dispatcher.ParseBalancer(cfg.Balance); err != nil {
		return cfg, err
	}
	if cfg.Host.Mode, err = host.ParseMode(mode); err != nil {
		return cfg, err
	}
	if cfg.Host.MaxInstances < 0 {
		return cfg, fmt.Errorf("--instances %d: want a positive count", cfg.Host.MaxInstances)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.Host.Env, err = parseEnv(env); err != nil {
		return cfg, err
	}
	if cfg.Host.Mounts, err = parseDirs(dirs); err != nil {
		return cfg, err
	}
	if config != "" {
		if cfg.Host.GuestConfig, err = os.ReadFile(config); err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %q is not debug, info, warn or error", logLevel)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

func parseEnv(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		env[k] = v
	}
	return env, nil
}

func parseDirs(dirs []string) ([]host.Mount, error) {
	var mounts []host.Mount
	for _, d := range dirs {
		hostPath, guestPath, _ := strings.Cut(d, ":")
		fi, err := os.Stat(hostPath)
		if err != nil {
			return nil, fmt.Errorf("--dir %s: %w", d, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--dir %s: not a directory", d)
		}
		mounts = append(mounts, host.Mount{HostPath: hostPath, GuestPath: guestPath})
	}
	return mounts, nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// sizeFlag is a byte count written as 1048576, 64KiB, 10MB, 1GiB, ...
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func parseSize(v string) (int64, error) {
	num, scale := v, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, scale = strings.TrimSuffix(v, u.suffix), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 1048576, 64KiB or 10MB", v)
	}
	return n * scale, nil
}

func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n >= u.scale && n%u.scale == 0 && n/u.scale < 1024 {
			return strconv.FormatInt(n/u.scale, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
