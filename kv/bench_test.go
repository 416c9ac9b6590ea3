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

// setGetWAT sets the key "k" to "v" in the store "default" and reads it
// back, once a request; with $ops 0 it only answers, the baseline.
const setGetWAT = `(module
  (import "wasmcluster" "kv_set" (func $set (param i32 i32 i32 i32 i32 i32 i64) (result i64)))
  (import "wasmcluster" "kv_get" (func $get (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "default")
  (data (i32.const 16) "k")
  (data (i32.const 32) "v")
  (global $ops (mut i32) (i32.const OPS))
  (func (export "handle_request") (result i64)
    (if (global.get $ops) (then
      (drop (call $set (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 1) (i64.const 0)))
      (drop (call $get (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1) (i32.const 64) (i32.const 64)))))
    (i64.const 0)))`

// BenchmarkKV measures, on each backend, one set and one get from a WAT
// guest (a request that makes no call is its baseline), one increment
// from the Go counter example, and the same from native Go.
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
	for _, backend := range []string{"sqlite", "redis"} {
		store := stores[backend](b)
		cfg := host.Config{KV: map[string]kv.Store{"default": store}}
		serve := func(b *testing.B, wasm []byte, method string) {
			h, err := host.New(ctx, wasm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close(ctx)
			req := httptest.NewRequest(method, "/", nil)
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		}
		b.Run(backend+"/native-set-get", func(b *testing.B) {
			for range b.N {
				if err := store.Set(ctx, "k", []byte("v"), 0); err != nil {
					b.Fatal(err)
				}
				if _, _, err := store.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/wat-request-only", func(b *testing.B) {
			serve(b, testwasm.WAT(b, strings.Replace(setGetWAT, "OPS", "0", 1)), "GET")
		})
		b.Run(backend+"/wat-set-get", func(b *testing.B) {
			serve(b, testwasm.WAT(b, strings.Replace(setGetWAT, "OPS", "1", 1)), "GET")
		})
		b.Run(backend+"/native-increment", func(b *testing.B) {
			for range b.N {
				if _, err := store.Increment(ctx, "hits", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/go-counter-post", func(b *testing.B) {
			wasm, err := os.ReadFile(testwasm.GoReactor(b, "examples/counter"))
			if err != nil {
				b.Fatal(err)
			}
			serve(b, wasm, "POST")
		})
		store.Close()
	}
}
