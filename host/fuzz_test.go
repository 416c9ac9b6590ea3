package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/kv"
)

// The fuzz targets run for a few seconds each in `make test`; a longer
// run, for example an hour of one target, is
//
//	go test ./host -run '^$' -fuzz '^FuzzNew$' -fuzztime 1h
//
// A crash it finds lands in testdata/fuzz/<target>; commit it there, so
// that every later `go test` runs it again.

// fuzzConfig keeps fuzzed guests small and quiet.
var fuzzConfig = Config{
	Timeout:      time.Second,
	MaxMemory:    16 << 20,
	MaxInstances: 1,
	Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
}

// compiles reports whether wazero accepts wasm as it is (a validator
// panic counts as refusal).
func compiles(wasm []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	_, err := r.CompileModule(ctx, wasm)
	return err == nil
}

// FuzzNew loads arbitrary bytes: New never panics, and never takes a
// module wazero refuses as written. A panic New recovered counts as a
// failure too: the bounds in front of wazero (module.go) must refuse
// such a module first, with a message that says why.
func FuzzNew(f *testing.F) {
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if len(wasm) > 1<<16 {
			return
		}
		h, err := New(context.Background(), wasm, fuzzConfig)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "the validator failed:") || strings.Contains(msg, "the host failed on the module:") {
				t.Fatal(msg)
			}
			return
		}
		defer h.Close(context.Background())
		if !compiles(wasm) {
			t.Fatal("New took a module wazero refuses")
		}
	})
}

// FuzzInstrument checks the instrumenter against wazero: a module wazero
// accepts is accepted after instrumentation, with the same imports and
// the same exports, plus only the host's own.
func FuzzInstrument(f *testing.F) {
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if len(wasm) > 1<<16 {
			return
		}
		secs, err := parseSections(wasm)
		if err != nil || checkSizes(secs) != nil || !compiles(wasm) {
			return
		}
		out, err := instrument(secs, wasm[:8])
		if err != nil {
			return // refused: served by nobody
		}
		before, after := describe(t, wasm), describe(t, out)
		if before.imports != after.imports {
			t.Fatalf("imports changed:\n%s\n%s", before.imports, after.imports)
		}
		for name, sig := range before.exports {
			if after.exports[name] != sig {
				t.Fatalf("export %q changed: %q → %q", name, sig, after.exports[name])
			}
		}
		for name := range after.exports {
			if _, ok := before.exports[name]; !ok && name != interruptGlobal && name != startExport {
				t.Fatalf("export %q appeared", name)
			}
		}
	})
}

// shape is what a module offers and needs, as text to compare.
type shape struct {
	imports string
	exports map[string]string
}

// describe compiles wasm, failing the test if wazero refuses it.
func describe(t *testing.T, wasm []byte) shape {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("the instrumented module is refused: %v", err)
	}
	s := shape{exports: map[string]string{}}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		s.imports += mod + "." + name + signature(f.ParamTypes(), f.ResultTypes()) + "\n"
	}
	for name, f := range m.ExportedFunctions() {
		s.exports[name] = "func" + signature(f.ParamTypes(), f.ResultTypes())
	}
	for name, mem := range m.ExportedMemories() {
		max, _ := mem.Max()
		s.exports[name] = "memory" + mebibytes(uint64(mem.Min())) + mebibytes(uint64(max))
	}
	return s
}

// FuzzCGIResponse feeds arbitrary guest output to a CGI response: an
// error or a response, never a panic, and never an interim or invalid
// status.
func FuzzCGIResponse(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain\n\nhello"))
	f.Add([]byte("Status: 404 Not Found\r\nX-A: b\r\n\r\n"))
	f.Add([]byte("Location: /x\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		rec := httptest.NewRecorder()
		stdout := &cgiStdout{w: rec, max: 1 << 20, stdin: &cgiStdin{}}
		_, _ = stdout.Write(out)
		if stdout.committed && (rec.Code < 200 || rec.Code > 999) {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// hostCallGuest calls functions of funcs one after another, as the
// request body says: up to four records of callRecord bytes, each the
// function's number at byte 0 and its arguments, 8 bytes each, from
// byte 8. It checks each wasmcluster function's result, a length or an
// ext* code, and ends the response body with 8 bytes: 0, or the first
// result that was neither. Its memory is one page, with strings a call
// may name at 1024: "default" (the store), "GET",
// "http://127.0.0.1:9/" and "echo" (the host function).
func hostCallGuest(funcs []hostFunc, modules []string) string {
	var b strings.Builder
	b.WriteString("(module\n")
	for i, f := range funcs {
		fmt.Fprintf(&b, "  (import %q %q (func $f%d%s))\n", modules[i], f.name, i, watSignature(f.params, f.results))
	}
	fmt.Fprintf(&b, `  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "default")
  (data (i32.const 1040) "GET")
  (data (i32.const 1056) "http://127.0.0.1:9/")
  (data (i32.const 1088) "echo")
  (func (export "handle_request") (result i64)
    (local $r i64) (local $bad i64) (local $p i32) (local $n i32)
    (local.set $n (i32.wrap_i64 (call $read_body (i32.const 0) (i32.const 0) (i32.const %d))))
    (block $end (loop $next
      (br_if $end (i32.gt_u (i32.add (local.get $p) (i32.const %d)) (local.get $n)))
      (block $done
`, 4*callRecord, callRecord)
	for i := len(funcs) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "      (block $b%d\n", i)
	}
	b.WriteString("        (br_table")
	for i := range funcs {
		fmt.Fprintf(&b, " $b%d", i)
	}
	b.WriteString(" $done (i32.load8_u (local.get $p))))\n")
	for i, f := range funcs {
		call := fmt.Sprintf("(call $f%d", i)
		for k, p := range f.params {
			call += fmt.Sprintf(" (%s.load offset=%d (local.get $p))", api.ValueTypeName(p), 8+8*k)
		}
		call += ")"
		switch {
		case len(f.results) == 0:
			b.WriteString("        " + call)
		case modules[i] == extModule && f.results[0] == i64:
			b.WriteString("        (local.set $r " + call + ")\n")
			fmt.Fprintf(&b, "        (if (i32.and (i64.eqz (local.get $bad)) (i64.lt_s (local.get $r) (i64.const %d))) (then (local.set $bad (local.get $r))))", extConflict)
		default:
			b.WriteString("        (drop " + call + ")")
		}
		b.WriteString(" (br $done))\n")
	}
	fmt.Fprintf(&b, `      (local.set $p (i32.add (local.get $p) (i32.const %d)))
      (br $next)))
    (i64.store (i32.const 2048) (local.get $bad))
    (call $write_body (i32.const 1) (i32.const 2048) (i32.const 8))
    (i64.const 0)))
`, callRecord)
	return b.String()
}

// callRecord is the size of one call in hostCallGuest's request body.
const callRecord = 80

// watSignature is a function type in WAT.
func watSignature(params, results []api.ValueType) string {
	var s string
	for _, p := range params {
		s += " (param " + api.ValueTypeName(p) + ")"
	}
	for _, r := range results {
		s += " (result " + api.ValueTypeName(r) + ")"
	}
	return s
}

// FuzzHostFunctions calls every host function, of both modules, with
// arbitrary arguments: pointers, lengths and limits anywhere in or out of
// guest memory. A call returns (a wasmcluster function: a length or one
// of the ext* codes), or traps the guest with the host's own message
// (memory outside the guest's, say); it never panics in the host, and the
// worker serves on.
func FuzzHostFunctions(f *testing.F) {
	funcs := slices.Concat(abiFuncs, extFuncs)
	modules := make([]string, len(funcs))
	for i := range funcs {
		modules[i] = extModule
		if i < len(abiFuncs) {
			modules[i] = "http_handler"
		}
	}
	wasm := testwasm.WAT(f, hostCallGuest(funcs, modules))
	var logs logbuf.Buffer
	cfg := fuzzConfig
	cfg.Logger = logs.Logger()
	cfg.KV = map[string]kv.Store{"default": newMemStore()}
	cfg.Functions = map[string]Function{"echo": func(_ context.Context, in []byte) ([]byte, error) { return in, nil }}
	cfg.MaxInstances = 4
	h, err := New(context.Background(), wasm, cfg)
	require.NoError(f, err)
	f.Cleanup(func() { _ = h.Close(context.Background()) })

	// Seeds: each function with its strings where the guest keeps them,
	// then with pointers and lengths far out of memory; and a whole
	// outbound request, one call after another.
	record := func(fn int, args ...uint64) []byte {
		r := make([]byte, callRecord)
		r[0] = byte(fn)
		for k, a := range args {
			binary.LittleEndian.PutUint64(r[8+8*k:], a)
		}
		return r
	}
	for i := range funcs {
		f.Add(record(i, 1024, 7, 1040, 3, 4096, 4096))
		f.Add(record(i, 65530, 1<<32-1, 1<<31, 65536, 1<<32-8, 1<<32-1, 1<<63, 1<<32-1, 1))
	}
	index := func(name string) int { return slices.IndexFunc(funcs, func(f hostFunc) bool { return f.name == name }) }
	f.Add(slices.Concat(record(index("http_request"), 1040, 3, 1056, 19), record(index("http_send"), 0, 4096, 4096),
		record(index("http_read"), 0, 4096, 4096), record(index("read_result"), 4096, 4096)))
	f.Add(slices.Concat(record(index("call"), 1088, 4, 1024, 7, 4096, 2), record(index("read_result"), 65535, 7),
		record(index("last_error"), 4096, 4096)))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 4*callRecord {
			return
		}
		logs.Reset()
		rec, aborted := serveAbortable(h, httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		log := logs.String()
		// A Go panic in a host function reaches the log as a trap with
		// the runtime's message; the text handler quotes whatever the
		// guest logs, so a guest cannot write these itself.
		for _, bad := range []string{`msg="guest trapped" error="runtime error`, `msg="host function panicked"`} {
			if strings.Contains(log, bad) {
				t.Fatalf("the host failed: %s", log)
			}
		}
		if strings.Contains(log, "guest trapped") || aborted {
			return // with the host's own message
		}
		out := rec.Body.Bytes()
		if len(out) < 8 {
			t.Fatalf("status %d, no result in %q: %s", rec.Code, out, log)
		}
		if r := int64(binary.LittleEndian.Uint64(out[len(out)-8:])); r != 0 {
			t.Fatalf("a call returned %d: neither a length nor a code (status %d, log %q)", r, rec.Code, log)
		}
	})
}

// serveAbortable is serve for a guest that may trap after its response
// started: the handler then aborts the response, as net/http expects.
func serveAbortable(h http.Handler, r *http.Request) (rec *httptest.ResponseRecorder, aborted bool) {
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(rec, r)
	return rec, false
}
