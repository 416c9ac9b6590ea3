//go:build !wasip1

package main_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

func TestCounterCountsPosts(t *testing.T) {
	wat, err := os.ReadFile(filepath.Join(testwasm.Root(), "examples/counter/wat/counter.wat"))
	if err != nil {
		t.Fatal(err)
	}
	for name, wasm := range map[string]func() []byte{
		"go":  func() []byte { b, _ := os.ReadFile(testwasm.GoReactor(t, "examples/counter")); return b },
		"wat": func() []byte { return testwasm.WAT(t, string(wat)) },
		"assemblyscript": func() []byte {
			b, _ := os.ReadFile(testwasm.AssemblyScript(t, "examples/counter/assemblyscript/counter.ts"))
			return b
		},
		"rust": func() []byte {
			b, _ := os.ReadFile(testwasm.Rust(t, "examples/counter/rust/counter.rs"))
			return b
		},
	} {
		t.Run(name, func(t *testing.T) { testCounter(t, wasm()) })
	}
}

func testCounter(t *testing.T, wasm []byte) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kv.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h, err := host.New(ctx, wasm, host.Config{KV: map[string]kv.Store{"default": store}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(method string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s /: %d %s", method, res.StatusCode, b)
		}
		return string(b)
	}
	for _, want := range []struct{ method, body string }{
		{"GET", "0\n"}, {"POST", "1\n"}, {"POST", "2\n"}, {"GET", "2\n"},
	} {
		if got := call(want.method); got != want.body {
			t.Errorf("%s /: got %q, want %q", want.method, got, want.body)
		}
	}
}
