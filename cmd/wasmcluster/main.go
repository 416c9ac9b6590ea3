// Command wasmcluster serves a WebAssembly HTTP handler on every core.
//
//	wasmcluster serve [flags] HANDLER.wasm
//	wasmcluster compile [flags] HANDLER.wasm
//	wasmcluster reload|stop --pid-file FILE
//	wasmcluster status (--admin ADDRESS | --pid-file FILE)
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
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/dispatcher"
	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...";
// otherwise it is the module version the binary was built from (go
// install ...@v1.2.3), or "dev".
var version = ""

// buildVersion returns the version to print.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usage is the help of the command, printed by "wasmcluster help".
const usage = `wasmcluster serves a WebAssembly HTTP handler on every core: a primary
process owns the socket and hands each connection to one of its worker
processes, each running the handler.

Usage:
  wasmcluster serve [flags] HANDLER.wasm     serve it (--workers N runs N workers, a standby and the primary)
  wasmcluster compile [flags] HANDLER.wasm   compile it into the cache (--cache-dir), ahead of a deploy
  wasmcluster reload --pid-file FILE         reload the module of the server that wrote FILE (SIGHUP)
  wasmcluster stop --pid-file FILE           drain and stop that server (SIGTERM), waiting for it to exit
  wasmcluster status --admin ADDRESS         whether a server is ready, and its workers (or --pid-file FILE)
  wasmcluster version                        (or --version)

Example:
  wasmcluster serve --listen :8080 --admin 127.0.0.1:9090 --pid-file /run/wc.pid hello.wasm
  curl localhost:8080/hi                         # the handler answers
  wasmcluster reload --pid-file /run/wc.pid      # reload hello.wasm, no request dropped
  wasmcluster stop --pid-file /run/wc.pid        # drain and exit

HANDLER.wasm is an http-wasm handler (exports handle_request), or a WASI
command (exports _start) run once per request, CGI style.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status: 0, 1 for a
// failure, 2 for a usage error. What the user asked for (help, the
// version) goes to stdout; errors go to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], stdout)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case err != nil:
			fmt.Fprintf(stderr, "wasmcluster: %v\nRun 'wasmcluster serve --help' for usage.\n", err)
			return 2
		}
		slog.SetDefault(cfg.Logger) // the log package's lines, too, go to the one logger
		if err := wasmcluster.Run(context.Background(), cfg); err != nil {
			fmt.Fprintf(stderr, "wasmcluster: %v\n", err)
			return 1
		}
		return 0
	case "compile":
		return compile(args[1:], stdout, stderr)
	case "reload", "stop", "status":
		return control(args[0], args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "wasmcluster", buildVersion())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wasmcluster: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// serveFlagsHelp introduces the flags in "serve --help".
const serveFlagsHelp = `
Flags of serve, written -name or --name, before or after HANDLER.wasm.
A size is a byte count, or a number with a unit: 65536, 64KiB, 10MB, 1GiB.
`

// Bounds of --max-memory: Wasm memory grows in 64 KiB pages, up to 4 GiB.
const (
	minMemory = 64 << 10
	maxMemory = 4 << 30
)

// parseServe turns the serve arguments into a Config. Flags may come
// before or after HANDLER.wasm; "--" ends them. For -h or --help it
// prints the help to stdout and returns flag.ErrHelp.
func parseServe(args []string, stdout io.Writer) (wasmcluster.Config, error) {
	var cfg wasmcluster.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	fs.Usage = func() {}
	var (
		timeout  = durationFlag(host.DefaultTimeout)
		drain    = durationFlag(30 * time.Second)
		cacheDir = wasmcluster.DefaultCacheDir()
		noCache  bool
		sockMode = modeFlag(0)
		format   string
		memory   = sizeFlag(host.DefaultMaxMemory)
		body     = sizeFlag(host.DefaultMaxRequestBody)
		response = sizeFlag(host.DefaultMaxResponseBody)
		env      = listFlag{}
		dirs     = listFlag{}
		allowOut = listFlag{}
		config   string
		mode     string
		logLevel string
		stores   = listFlag{}
		quota    = sizeFlag(sqlite.DefaultQuota)
		maxKey   = sizeFlag(kv.DefaultMaxKey)
		maxValue = sizeFlag(kv.DefaultMaxValue)
	)
	fs.StringVar(&cfg.Listen, "listen", ":8080", "`address` to serve: host:port, unix:/path, or systemd (socket activation)")
	fs.IntVar(&cfg.Workers, "workers", 0, "`n` worker processes (0: one per CPU)")
	fs.StringVar(&cfg.Balance, "balance", "round-robin", "`policy` that spreads connections over the workers: round-robin or least-conn")
	fs.Var(&sockMode, "socket-mode", "permission `bits` of the Unix socket --listen unix:/path makes, in octal, e.g. 0660 (default: as the umask leaves them)")
	fs.Var(&timeout, "timeout", "longest a request may run in the handler, a `duration` such as 5s; after it, the client gets 504")
	fs.Var(&memory, "max-memory", "most linear memory a handler instance may use, a `size` from 64KiB to 4GiB; a handler needing more gets 500")
	fs.Var(&body, "max-body", "largest request body the handler may read, a `size` or -1 for no limit; a larger one gets 413")
	fs.Var(&response, "max-response", "largest response body the handler may write, a `size` or -1 for no limit; past it the client gets 500, or a cut connection once the response has started")
	fs.IntVar(&cfg.Host.MaxInstances, "instances", 0, "`n` handler instances per worker: requests it runs at once; more wait (0: four per worker thread)")
	fs.Var(&env, "env", "set `KEY=VALUE` in the handler's environment, otherwise empty (repeatable)")
	fs.Var(&dirs, "dir", "host directory the handler may read (not write), written `HOST[:GUEST]`: the handler sees HOST at path GUEST, which defaults to HOST (repeatable)")
	fs.Var(&allowOut, "allow-outbound", "destination the handler may send HTTP requests to, a `pattern` scheme://host[:port] with * for any scheme, host prefix or port: https://api.example.com, https://*.example.com:8443, http://127.0.0.1:* (repeatable; default: none)")
	fs.StringVar(&config, "config", "", "`file` whose bytes the handler reads with get_config")
	fs.StringVar(&mode, "mode", "auto", "`kind` of handler: auto (from its exports), handler (http-wasm) or cgi (WASI command)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate `file`; with --tls-key, serve HTTPS and HTTP/2")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.Var(&drain, "drain-timeout", "longest a drain (SIGTERM, reload) waits for requests in flight, a `duration`")
	cfg.Host.QueueTimeout = host.DefaultQueueTimeout
	fs.Var((*durationFlag)(&cfg.Host.QueueTimeout), "queue-timeout", "longest a request waits for a free handler instance; after it, the client gets 503 with Retry-After")
	cfg.HeaderTimeout = 10 * time.Second
	fs.Var((*durationFlag)(&cfg.HeaderTimeout), "header-timeout", "longest a client may take to send a request's header")
	cfg.ReadTimeout = time.Minute
	fs.Var((*durationFlag)(&cfg.ReadTimeout), "read-timeout", "longest a client may take to send a whole request, body included")
	cfg.WriteTimeout = 30 * time.Second
	fs.Var((*durationFlag)(&cfg.WriteTimeout), "write-timeout", "longest a client may take to read each part of a response before it is cut off")
	cfg.IdleTimeout = 2 * time.Minute
	fs.Var((*durationFlag)(&cfg.IdleTimeout), "idle-timeout", "longest a keep-alive connection may wait for its next request")
	cfg.ParkTimeout = 5 * time.Second
	fs.Var((*durationFlag)(&cfg.ParkTimeout), "park-timeout", "longest a connection waits for a worker that can take it; after it, the client gets 503")
	fs.StringVar(&cfg.Admin, "admin", "", "`address` for /healthz, /readyz, /workers and /metrics, e.g. 127.0.0.1:9090 (default: none)")
	fs.StringVar(&cacheDir, "cache-dir", cacheDir, "`directory` that keeps compiled modules across starts, shareable by servers")
	fs.BoolVar(&noCache, "no-cache", false, "compile into a private directory removed at exit: every start compiles again")
	fs.StringVar(&cfg.PIDFile, "pid-file", "", "`file` to write the primary's pid to, for reload and stop")
	fs.BoolVar(&cfg.AccessLog, "access-log", true, "log a line per request; --access-log=false turns it off")
	fs.Var(&stores, "kv", "key-value store `NAME=URL` the handler may use: sqlite:PATH (a file this machine's workers share) or redis://HOST:PORT/DB (repeatable; default: default=sqlite:$XDG_STATE_HOME/wasmcluster/kv/default.db, XDG_STATE_HOME defaulting to ~/.local/state)")
	fs.Var(&quota, "kv-quota", "most bytes of keys and values in each sqlite store, a `size` or -1 for no quota")
	fs.Var(&maxKey, "kv-max-key", "longest key-value key, a `size`")
	fs.Var(&maxValue, "kv-max-value", "largest key-value value, a `size`")
	fs.IntVar(&cfg.Host.KVLimits.MaxList, "kv-max-list", kv.DefaultMaxList, "most keys `n` one key-value list call returns")
	fs.StringVar(&logLevel, "log-level", "info", "least `severity` logged: debug, info, warn or error")
	fs.StringVar(&format, "log-format", "text", "`format` of the log: text or json")

	// The flag package stops at the first argument that is not a flag:
	// take it as a positional one and parse on, until "--" or the end.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage+serveFlagsHelp)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
			}
			return cfg, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if len(positional) != 1 {
		return cfg, fmt.Errorf("serve takes one HANDLER.wasm, got %d arguments", len(positional))
	}
	cfg.Module = positional[0]

	cfg.Host.Timeout, cfg.DrainTimeout = time.Duration(timeout), time.Duration(drain)
	cfg.Host.CompilationCacheDir, cfg.PrivateCache = cacheDir, noCache
	cfg.SocketMode = os.FileMode(sockMode)
	var err error
	if _, err = dispatcher.ParseBalancer(cfg.Balance); err != nil {
		return cfg, err
	}
	if cfg.Host.Mode, err = host.ParseMode(mode); err != nil {
		return cfg, err
	}
	if cfg.Workers < 0 {
		return cfg, fmt.Errorf("--workers %d: want a positive count, or 0 for one per CPU", cfg.Workers)
	}
	if cfg.Host.MaxInstances < 0 {
		return cfg, fmt.Errorf("--instances %d: want a positive count, or 0 for the default", cfg.Host.MaxInstances)
	}
	if cfg.Host.Timeout <= 0 {
		return cfg, fmt.Errorf("--timeout %v: want a positive duration", cfg.Host.Timeout)
	}
	if cfg.DrainTimeout <= 0 {
		return cfg, fmt.Errorf("--drain-timeout %v: want a positive duration", cfg.DrainTimeout)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"queue-timeout", cfg.Host.QueueTimeout}, {"header-timeout", cfg.HeaderTimeout}, {"read-timeout", cfg.ReadTimeout},
		{"write-timeout", cfg.WriteTimeout}, {"idle-timeout", cfg.IdleTimeout}, {"park-timeout", cfg.ParkTimeout},
	} {
		if d.v <= 0 {
			return cfg, fmt.Errorf("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	if memory < minMemory || memory > maxMemory {
		return cfg, fmt.Errorf("--max-memory %v: want %s to %s", &memory, formatSize(minMemory), formatSize(maxMemory))
	}
	cfg.Host.MaxMemory = uint64(memory)
	cfg.Host.MaxRequestBody = int64(body)
	cfg.Host.MaxResponseBody = int64(response)
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.Host.Env, err = parseEnv(env); err != nil {
		return cfg, err
	}
	if cfg.Host.Mounts, err = parseDirs(dirs); err != nil {
		return cfg, err
	}
	cfg.Host.Outbound.Allow = allowOut
	if err := host.CheckOutboundAllow(allowOut); err != nil {
		return cfg, fmt.Errorf("--allow-outbound: %w", err)
	}
	if config != "" {
		if cfg.Host.GuestConfig, err = os.ReadFile(config); err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
	}
	if cfg.KV, err = parseStores(stores); err != nil {
		return cfg, err
	}
	cfg.KVQuota = int64(quota)
	if maxKey < 0 || maxValue < 0 || cfg.Host.KVLimits.MaxList <= 0 {
		return cfg, errors.New("--kv-max-key, --kv-max-value and --kv-max-list take positive values")
	}
	cfg.Host.KVLimits.MaxKey, cfg.Host.KVLimits.MaxValue = int(maxKey), int(maxValue)
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %q is not debug, info, warn or error", logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, opts))
	default:
		return cfg, fmt.Errorf("--log-format: %q is not text or json", format)
	}
	return cfg, nil
}

// parseEnv turns the --env values into the guest's environment.
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

// parseStores turns the --kv values into the cluster's stores, with the
// embedded "default" unless one is given.
func parseStores(specs []string) (map[string]string, error) {
	stores := make(map[string]string, len(specs)+1)
	for _, spec := range specs {
		name, rawURL, ok := strings.Cut(spec, "=")
		if !ok || name == "" || rawURL == "" {
			return nil, fmt.Errorf("--kv %q: want NAME=URL, e.g. default=redis://127.0.0.1:6379/0", spec)
		}
		if _, dup := stores[name]; dup {
			return nil, fmt.Errorf("--kv %q: store %s is given twice", spec, name)
		}
		stores[name] = rawURL
	}
	if _, ok := stores["default"]; !ok {
		path, err := sqlite.DefaultPath("default")
		if err != nil {
			return nil, fmt.Errorf("--kv: %w", err)
		}
		stores["default"] = "sqlite:" + path
	}
	return stores, nil
}

// parseDirs turns the --dir values into mounts of existing directories.
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

// String returns the values so far, comma-separated.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one more value.
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// sizeFlag is a byte count written as 1048576, 64KiB, 10MB, 1GiB, ...,
// or -1 for no limit where a flag allows it.
type sizeFlag int64

// String returns the size as formatSize writes it.
func (s *sizeFlag) String() string { return formatSize(int64(*s)) }

// Set parses a size as parseSize does.
func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// sizeUnits are the units parseSize knows: a suffix and the bytes in one.
var sizeUnits = []struct {
	suffix string
	scale  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// parseSize parses a positive size with an optional unit, or -1.
func parseSize(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	num, scale := v, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, scale = strings.TrimSuffix(v, u.suffix), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if n > 0 && (errors.Is(err, strconv.ErrRange) || n > math.MaxInt64/scale) {
		return 0, fmt.Errorf("%q is too large", v)
	}
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 1048576, 64KiB or 10MB", v)
	}
	return n * scale, nil
}

// formatSize writes n in the largest binary unit that divides it.
func formatSize(n int64) string {
	if n > 0 {
		for _, u := range []int{2, 1, 0} {
			if unit := sizeUnits[u]; n%unit.scale == 0 {
				return strconv.FormatInt(n/unit.scale, 10) + unit.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// durationFlag is a time.Duration whose error says how to write one.
type durationFlag time.Duration

// String returns the duration as time.Duration writes it.
func (d *durationFlag) String() string { return time.Duration(*d).String() }

// Set parses a duration such as 5s, 1m30s or 500ms.
func (d *durationFlag) Set(v string) error {
	parsed, err := time.ParseDuration(v)
	if err != nil {
		if _, numErr := strconv.ParseFloat(v, 64); numErr == nil {
			return fmt.Errorf("%q has no unit; write %ss for seconds, or ms, m, h", v, v)
		}
		return fmt.Errorf("%q is not a duration such as 5s, 1m30s or 500ms", v)
	}
	*d = durationFlag(parsed)
	return nil
}

// modeFlag is file permission bits written in octal, such as 0660.
type modeFlag os.FileMode

// String returns the bits in octal.
func (m *modeFlag) String() string { return fmt.Sprintf("%#o", uint32(*m)) }

// Set parses octal permission bits.
func (m *modeFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("%q is not permission bits in octal, such as 0660", v)
	}
	*m = modeFlag(n)
	return nil
}
