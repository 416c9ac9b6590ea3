package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/discard"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// BenchmarkHello serves the same hello request natively, through a WAT
// guest and through the Go SDK guest, so one run shows the cost of each.
func BenchmarkHello(b *testing.B) {
	b.Run("native", func(b *testing.B) {
		discard.Benchmark(b, http.HandlerFunc(nativeHello))
	})
	b.Run("wat", func(b *testing.B) {
		discard.Benchmark(b, newGuest(b, helloWAT, Config{}))
	})
	b.Run("go-sdk", func(b *testing.B) {
		wasm := testwasm.GoReactor(b, "examples/hello-wasm/go")
		h, err := Load(context.Background(), wasm, Config{})
		require.NoError(b, err)
		b.Cleanup(func() { _ = h.Close(context.Background()) })
		discard.Benchmark(b, h)
	})
}

// BenchmarkHelloParallel is BenchmarkHello/wat with every core serving.
func BenchmarkHelloParallel(b *testing.B) {
	h := newGuest(b, helloWAT, Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := discard.New()
		r := httptest.NewRequest("GET", "/hello?name=bench", nil)
		for pb.Next() {
			w.Reset()
			h.ServeHTTP(w, r)
		}
	})
}
