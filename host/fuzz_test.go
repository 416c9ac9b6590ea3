package host

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
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
// module wazero refuses as written.
func FuzzNew(f *testing.F) {
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if len(wasm) > 1<<16 {
			return
		}
		h, err := New(context.Background(), wasm, fuzzConfig)
		if err != nil {
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
