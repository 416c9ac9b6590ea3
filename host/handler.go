package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Handler serves HTTP requests with a Wasm module. It is safe for
// concurrent use. Create one with Load or New; Close it when done.
type Handler struct {
	cfg      Config
	mode     Mode
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	cache    wazero.CompilationCache
	mounts   wazero.FSConfig // nil without Config.Mounts
	roots    []*os.Root      // the mounts' directories, held open

	// serve runs one request in the resolved mode.
	serve func(w http.ResponseWriter, r *http.Request, next http.Handler)

	pool     *pool  // ModeHandler only
	cgiSlots *slots // ModeCGI only: bounds concurrent runs

	outbound *outboundClient // the guests' outbound requests

	requestSeq atomic.Uint64
	metrics    *metrics
	// functionSeries counts the calls of each of cfg.Functions.
	functionSeries map[string]functionSeries
	// kvSeries counts the calls on each of cfg.KV, by store and function.
	kvSeries map[string]map[string]*kvSeries
}

// Load reads the module at path and returns a Handler for it, or one clear
// error naming what is wrong with the module.
func Load(ctx context.Context, path string, cfg Config) (*Handler, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load module: %w", err)
	}
	h, err := New(ctx, wasm, cfg)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", path, err)
	}
	return h, nil
}

// New compiles wasm and returns a Handler for it. In ModeHandler it also
// starts one instance, so that a module that cannot run fails here rather
// than on the first request. Whatever the bytes, New returns an error
// rather than panic; but an out-of-memory in the compiler ends the
// process, so a program that takes modules it does not trust checks them
// in a process of its own first (wasmcluster.Run does).
func New(ctx context.Context, wasm []byte, cfg Config) (_ *Handler, err error) {
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg, metrics: newMetrics(cfg.Metrics)}
	h.functionSeries = h.metrics.functionSeries(cfg.Functions)
	h.kvSeries = h.metrics.kvSeries(cfg.KV)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the host failed on the module: %v", p)
		}
		if err != nil {
			_ = h.Close(ctx)
		}
	}()
	if h.outbound, err = newOutboundClient(cfg.Outbound); err != nil {
		return nil, err
	}

	// Every module gets interrupt checks of its own (see interrupt.go),
	// once it is known to be valid as written.
	if wasm, err = prepare(ctx, wasm, cfg.MaxMemory, cfg.CompilationCacheDir); err != nil {
		return nil, err
	}
	if err = h.openMounts(); err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(false).
		WithMemoryLimitPages(uint32(min(cfg.MaxMemory/65536, 65536)))
	if cfg.CompilationCacheDir != "" {
		h.cache, err = wazero.NewCompilationCacheWithDir(cfg.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(h.cache)
	}
	h.runtime = wazero.NewRuntimeWithConfig(ctx, rc)

	if _, err = wasi_snapshot_preview1.Instantiate(ctx, h.runtime); err != nil {
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err = instantiateHostModule(ctx, h.runtime, abiModule, abiFuncs); err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", abiModule, err)
	}
	if err = instantiateHostModule(ctx, h.runtime, extModule, extFuncs); err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", extModule, err)
	}
	h.compiled, err = h.runtime.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("not a valid Wasm module: %w", firstLine(err))
	}
	if err = checkImports(h.compiled); err != nil {
		return nil, err
	}
	if h.mode, err = resolveMode(h.compiled, cfg.Mode); err != nil {
		return nil, err
	}

	switch h.mode {
	case ModeHandler:
		h.pool = newPool(h, cfg.MaxInstances)
		h.serve = h.serveHandler
		var inst *instance
		if inst, err = h.pool.get(ctx); err != nil {
			return nil, err
		}
		h.pool.put(inst)
	case ModeCGI:
		h.cgiSlots = newSlots(cfg.MaxInstances)
		h.serve = h.serveCGI
	}
	return h, nil
}

// Mode reports how the module is driven, after ModeAuto was resolved.
func (h *Handler) Mode() Mode { return h.mode }

// ServeHTTP runs the guest for one request. A guest returning next=1 reaches
// Config.Next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, h.cfg.Next)
}

// Wrap returns the guest as middleware around next: the same instances serve
// it, and next=1 reaches next instead of Config.Next.
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, next)
	})
}

// Close refuses new requests with 503, interrupts the running ones, and
// once none is running releases the instances and the runtime. If ctx
// ends first, Close returns its error and the release happens when the
// last running request ends.
func (h *Handler) Close(ctx context.Context) error {
	var running <-chan struct{}
	switch {
	case h.pool != nil:
		running = h.pool.close()
	case h.cgiSlots != nil:
		running = h.cgiSlots.close()
	}
	if running != nil {
		select {
		case <-running:
		case <-ctx.Done():
			go func() {
				<-running
				_ = h.release(context.Background())
			}()
			return fmt.Errorf("close: guests still running, released when they end: %w", ctx.Err())
		}
	}
	return h.release(ctx)
}

// release closes what the guests ran on: none may be running.
func (h *Handler) release(ctx context.Context) error {
	if h.outbound != nil {
		h.outbound.close()
	}
	var err error
	if h.runtime != nil {
		err = h.runtime.Close(ctx)
	}
	if h.cache != nil {
		err = errors.Join(err, h.cache.Close(ctx))
	}
	for _, root := range h.roots {
		err = errors.Join(err, root.Close())
	}
	h.roots = nil
	return err
}

// moduleConfig is the WASI view every instance gets: the configured
// environment and mounts, real clocks and randomness, nothing else. No
// start function runs on instantiation: the caller runs them, under c.
func (h *Handler) moduleConfig(c *interrupter) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(c.sleep).
		WithRandSource(c.reader(rand.Reader))
	for _, k := range sortedKeys(h.cfg.Env) {
		mc = mc.WithEnv(k, h.cfg.Env[k])
	}
	if h.mounts != nil {
		mc = mc.WithFSConfig(h.mounts)
	}
	return mc
}

// openMounts opens the configured mounts. Each is an os.Root: a path
// that resolves outside its directory — through "..", or a symlink to
// elsewhere — is refused, and the guest gets no way to write.
func (h *Handler) openMounts() error {
	if len(h.cfg.Mounts) == 0 {
		return nil
	}
	fc := wazero.NewFSConfig()
	for _, m := range h.cfg.Mounts {
		root, err := os.OpenRoot(m.HostPath)
		if err != nil {
			return fmt.Errorf("mount: %w", err)
		}
		h.roots = append(h.roots, root)
		guest := m.GuestPath
		if guest == "" {
			guest = m.HostPath
		}
		fc = fc.WithFSMount(root.FS(), guest)
	}
	h.mounts = fc
	return nil
}

// resolveMode checks that the module exports what its mode needs.
func resolveMode(m wazero.CompiledModule, want Mode) (Mode, error) {
	exports := m.ExportedFunctions()
	_, hasHandle := exports["handle_request"]
	_, hasStart := exports["_start"]
	if want == ModeAuto {
		switch {
		case hasHandle:
			want = ModeHandler
		case hasStart:
			want = ModeCGI
		default:
			return 0, errors.New("module exports neither handle_request (an http-wasm handler) nor _start (a WASI command)")
		}
	}
	switch want {
	case ModeHandler:
		if !hasHandle {
			return 0, errors.New("module does not export handle_request, which an http-wasm handler must")
		}
		if err := checkSignature(exports["handle_request"], nil, []api.ValueType{api.ValueTypeI64}); err != nil {
			return 0, err
		}
		if f, ok := exports["handle_response"]; ok {
			if err := checkSignature(f, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil); err != nil {
				return 0, err
			}
		}
		if _, ok := m.ExportedMemories()["memory"]; !ok {
			return 0, errors.New(`module does not export its memory as "memory", which an http-wasm handler must`)
		}
	case ModeCGI:
		if !hasStart {
			return 0, errors.New("module does not export _start, which a WASI command must")
		}
	}
	return want, nil
}

func checkSignature(f api.FunctionDefinition, params, results []api.ValueType) error {
	if string(f.ParamTypes()) != string(params) || string(f.ResultTypes()) != string(results) {
		return fmt.Errorf("export %s has signature %s, want %s",
			printable(f.ExportNames()[0]), signature(f.ParamTypes(), f.ResultTypes()), signature(params, results))
	}
	return nil
}

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ",") + ")"
	}
	return name(params) + "->" + name(results)
}

// checkImports rejects imports the host does not provide, naming the first.
func checkImports(m wazero.CompiledModule) error {
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		mod, name = printable(mod), printable(name)
		switch mod {
		case abiModule:
			if !abiFunctions[name] {
				return fmt.Errorf("module imports %s.%s, which is not part of the http-wasm handler ABI", mod, name)
			}
		case extModule:
			if !extFunctions[name] {
				return fmt.Errorf("module imports %s.%s, which this wasmcluster does not provide", mod, name)
			}
		case wasi_snapshot_preview1.ModuleName:
		default:
			return fmt.Errorf("module imports %s.%s; wasmcluster provides only %s, %s and %s",
				mod, name, abiModule, extModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	if mems := m.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		mod, name = printable(mod), printable(name)
		return fmt.Errorf("module imports memory %s.%s; it must define its own", mod, name)
	}
	return nil
}

// printable is a name from a module as an error message may show it:
// as it is when it is plain, quoted when it holds anything a terminal
// could take for a control sequence.
func printable(s string) string {
	for _, r := range s {
		if r < ' ' || r > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}

// mebibytes formats a size in bytes for people.
func mebibytes(n uint64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}

// firstLine keeps an error to one line for the user; the details follow
// in the compiler's own words.
func firstLine(err error) error {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return errors.New(s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
