package kv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testredis"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/redis"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

// opWAT makes one key-value call a request, chosen by OP: 1 sets the key
// "k" to "v" in the store "default", 2 reads it; 0 makes no call, the
// baseline.
const opWAT = `(module
  (import "wasmcluster" "kv_set" (func $set (param i32 i32 i32 i32 i32 i32 i64) (result i64)))
  (import "wasmcluster" "kv_get" (func $get (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "default")
  (data (i32.const 16) "k")
  (data (i32.const 32) "v")
  (global $op i32 (i32.const OP))
  (func (export "handle_request") (result i64)
    (if (i32.eq (global.get $op) (i32.const 1)) (then
      (drop (call $set (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 1) (i64.const 0)))))
    (if (i32.eq (global.get $op) (i32.const 2)) (then
      (drop (call $get (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1) (i32.const 64) (i32.const 64)))))
    (i64.const 0)))`

// BenchmarkKV measures, on each backend, one set and one get of a one-byte
// value: from native Go on the store, from a WAT guest and from a Go guest
// (guest-sdk/go/kv's testkv: PUT and GET /k/k), each guest next to a
// request of its own that makes no call. bench/kv.sh runs it and prints
// the figures side by side with their ratios.
func BenchmarkKV(b *testing.B) {
	ctx := context.Background()
	stores := map[string]func(b *testing.B) kv.Store{
		"sqlite": func(b *testing.B) kv.Store {
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "kv.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"redis": func(b *testing.B) kv.Store {
			s, err := redis.Open(testredis.Start(b).URL())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	wat := func(b *testing.B, op string) []byte { return testwasm.WAT(b, strings.Replace(opWAT, "OP", op, 1)) }
	goGuest := func(b *testing.B) []byte {
		wasm, err := os.ReadFile(testwasm.GoReactor(b, "guest-sdk/go/kv/internal/testkv"))
		if err != nil {
			b.Fatal(err)
		}
		return wasm
	}
	for _, backend := range []string{"sqlite", "redis"} {
		store := stores[backend](b)
		if err := store.Set(ctx, "k", []byte("v"), 0); err != nil {
			b.Fatal(err)
		}
		cfg := host.Config{KV: map[string]kv.Store{"default": store}}
		// serve sends the same request to the guest b.N times; every
		// answer must be want.
		serve := func(b *testing.B, wasm []byte, method, path, body string, want int) {
			h, err := host.New(ctx, wasm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close(ctx)
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
				if w.Code != want {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		}
		b.Run(backend+"/native/set", func(b *testing.B) {
			for range b.N {
				if err := store.Set(ctx, "k", []byte("v"), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/native/get", func(b *testing.B) {
			for range b.N {
				if _, _, err := store.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/wat/none", func(b *testing.B) { serve(b, wat(b, "0"), "GET", "/", "", http.StatusOK) })
		b.Run(backend+"/wat/set", func(b *testing.B) { serve(b, wat(b, "1"), "GET", "/", "", http.StatusOK) })
		b.Run(backend+"/wat/get", func(b *testing.B) { serve(b, wat(b, "2"), "GET", "/", "", http.StatusOK) })
		b.Run(backend+"/go/none", func(b *testing.B) { serve(b, goGuest(b), "GET", "/none", "", http.StatusNotFound) })
		b.Run(backend+"/go/set", func(b *testing.B) { serve(b, goGuest(b), "PUT", "/k/k", "v", http.StatusOK) })
		b.Run(backend+"/go/get", func(b *testing.B) { serve(b, goGuest(b), "GET", "/k/k", "", http.StatusOK) })
		store.Close()
	}
}
