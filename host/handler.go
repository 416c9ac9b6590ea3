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

	// serve runs one request in the resolved mode.
	serve func(w http.ResponseWriter, r *http.Request, next http.Handler)

	pool   *pool         // ModeHandler only
	cgiSem chan struct{} // ModeCGI only: bounds concurrent runs

	outbound *outboundClient // the guests' outbound requests

	requestSeq atomic.Uint64
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
// than on the first request.
func New(ctx context.Context, wasm []byte, cfg Config) (_ *Handler, err error) {
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg}
	if h.outbound, err = newOutboundClient(cfg.Outbound); err != nil {
		return nil, err
	}

	// Handler modules get interrupt checks of their own (see
	// interrupt.go); the rest rely on wazero's context checks.
	instrumented := false
	if secs, err := parseSections(wasm); err == nil {
		if need := initialMemory(secs); need > cfg.MaxMemory {
			return nil, fmt.Errorf("module needs %s of memory to start, over the limit of %s", mebibytes(need), mebibytes(cfg.MaxMemory))
		}
		if cfg.Mode == ModeHandler || cfg.Mode == ModeAuto && exportsFunction(secs, "handle_request") {
			if out, err := instrument(secs, wasm[:8]); err == nil {
				wasm, instrumented = out, true
			}
		}
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(!instrumented).
		WithMemoryLimitPages(uint32(min(cfg.MaxMemory/65536, 65536)))
	if cfg.CompilationCacheDir != "" {
		h.cache, err = wazero.NewCompilationCacheWithDir(cfg.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(h.cache)
	}
	h.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	defer func() {
		if err != nil {
			_ = h.Close(ctx)
		}
	}()

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
		h.cgiSem = make(chan struct{}, cfg.MaxInstances)
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

// Close releases the instances and the runtime. Requests still running
// are interrupted.
func (h *Handler) Close(ctx context.Context) error {
	if h.pool != nil {
		h.pool.close()
	}
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
	return err
}

// moduleConfig is the WASI view every instance gets: the configured
// environment and mounts, real clocks and randomness, nothing else.
func (h *Handler) moduleConfig() wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, k := range sortedKeys(h.cfg.Env) {
		mc = mc.WithEnv(k, h.cfg.Env[k])
	}
	if len(h.cfg.Mounts) > 0 {
		fc := wazero.NewFSConfig()
		for _, m := range h.cfg.Mounts {
			guest := m.GuestPath
			if guest == "" {
				guest = m.HostPath
			}
			fc = fc.WithReadOnlyDirMount(m.HostPath, guest)
		}
		mc = mc.WithFSConfig(fc)
	}
	return mc
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
			f.ExportNames()[0], signature(f.ParamTypes(), f.ResultTypes()), signature(params, results))
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
		return fmt.Errorf("module imports memory %s.%s; it must define its own", mod, name)
	}
	return nil
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
