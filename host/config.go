package host

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmcluster/wasmcluster/kv"
)

// Mode selects how a module is driven.
type Mode int

const (
	// ModeAuto picks ModeHandler when the module exports handle_request and
	// ModeCGI when it exports only _start.
	ModeAuto Mode = iota
	// ModeHandler runs the module as an http-wasm handler: live instances are
	// kept in a pool and handle_request is called once per request.
	ModeHandler
	// ModeCGI runs the module as a WASI command once per request, with the
	// request as CGI/1.1 environment variables and stdin, and a CGI response
	// read from its stdout.
	ModeCGI
)

// String returns the mode's name as the command line spells it.
func (m Mode) String() string {
	switch m {
	case ModeHandler:
		return "handler"
	case ModeCGI:
		return "cgi"
	default:
		return "auto"
	}
}

// ParseMode parses "auto", "handler" or "cgi".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "handler":
		return ModeHandler, nil
	case "cgi":
		return ModeCGI, nil
	}
	return ModeAuto, fmt.Errorf("unknown mode %q (want auto, handler or cgi)", s)
}

// Mount exposes a host directory to the guest, read-only.
type Mount struct {
	// HostPath is the directory on the host.
	HostPath string
	// GuestPath is where the guest sees it; empty means the same as HostPath.
	GuestPath string
}

// Defaults used where a Config field is zero.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxMemory       = 128 << 20 // bytes of linear memory per instance
	DefaultMaxRequestBody  = 32 << 20
	DefaultMaxResponseBody = 64 << 20
	DefaultQueueTimeout    = 10 * time.Second
)

// Config tunes a Handler. The zero value is ready to use: every zero field
// takes the default named in its comment.
type Config struct {
	// Mode chooses between the http-wasm handler ABI and WASI command (CGI)
	// handlers. Default ModeAuto: decided by the module's exports.
	Mode Mode

	// Timeout bounds one request's time in the guest, on top of the
	// request's own context. A guest still running then is interrupted and
	// the client gets 504. Default DefaultTimeout.
	Timeout time.Duration

	// MaxMemory bounds each instance's linear memory, in bytes (rounded down
	// to 64 KiB pages). A guest that needs more traps and the client gets
	// 500. Default DefaultMaxMemory.
	MaxMemory uint64

	// MaxRequestBody bounds the request body the guest may read; a larger
	// body gets 413. Default DefaultMaxRequestBody; negative means no limit.
	MaxRequestBody int64

	// MaxResponseBody bounds the response body the guest may write; a guest
	// writing more traps (500 if nothing was sent yet). Default
	// DefaultMaxResponseBody; negative means no limit.
	MaxResponseBody int64

	// MaxInstances bounds the live instances, and so the requests in the
	// guest at once. A request beyond it waits for a free instance, bounded
	// by its context and QueueTimeout. Default 4 × GOMAXPROCS.
	MaxInstances int

	// QueueTimeout bounds a request's wait for a free instance; one that
	// gets none in time is answered 503 with Retry-After. Default
	// DefaultQueueTimeout.
	QueueTimeout time.Duration

	// GuestConfig is the byte string the guest reads with get_config.
	GuestConfig []byte

	// Env is the guest's WASI environment. Empty by default: the guest sees
	// none of the host's variables.
	Env map[string]string

	// Mounts are host directories the guest may read. None by default.
	Mounts []Mount

	// CompilationCacheDir, when set, keeps compiled code on disk there so
	// that other processes loading the same module skip compilation, and
	// the module validated and instrumented, signed with a key kept there
	// (see preparedcache.go), so that they skip that too.
	CompilationCacheDir string

	// Metrics, when set, gets the Handler's Prometheus series: traps,
	// timeouts, limit refusals, live instances and pool waits (see
	// metrics.go). Handlers sharing a registry share the series.
	Metrics prometheus.Registerer

	// Logger receives guest logs, guest stdout/stderr and trap messages.
	// Default slog.Default().
	Logger *slog.Logger

	// KV are the key-value stores guests may use, by the name a guest
	// calls them (the usual one is "default"). A guest can reach no store
	// not named here. None by default. The Handler uses them and never
	// closes them: whoever opened them does.
	KV map[string]kv.Store

	// KVLimits bound what a guest may ask of a store in one call: key and
	// value sizes, keys per list. Zero fields take kv's defaults.
	KVLimits kv.Limits

	// Next is the handler a guest reaches by returning next=1 from
	// handle_request. Default: 404 Not Found. Handler.Wrap sets it per use.
	Next http.Handler

	// Functions are the host functions guests may call, by name
	// (wasmcluster.call). None by default.
	Functions map[string]Function
	// FunctionLimits bound the calls to Functions.
	FunctionLimits FunctionLimits

	// Outbound lets guests send HTTP requests to the destinations it
	// allows. None by default.
	Outbound Outbound
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = DefaultMaxMemory
	}
	if c.MaxRequestBody == 0 {
		c.MaxRequestBody = DefaultMaxRequestBody
	}
	if c.MaxResponseBody == 0 {
		c.MaxResponseBody = DefaultMaxResponseBody
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 4 * runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.KVLimits = c.KVLimits.WithDefaults()
	if c.Next == nil {
		c.Next = http.NotFoundHandler()
	}
	c.FunctionLimits = c.FunctionLimits.withDefaults()
	c.Outbound = c.Outbound.withDefaults()
	return c
}
