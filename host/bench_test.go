package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// discardWriter is a reusable ResponseWriter, so that benchmarks measure
// the handler rather than the recorder.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, h http.Handler) {
	w := &discardWriter{header: make(http.Header)}
	r := httptest.NewRequest("GET", "/hello?name=bench", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHello serves the same hello request natively, through a WAT
// guest and through the Go SDK guest, so one run shows the cost of each.
func BenchmarkHello(b *testing.B) {
	b.Run("native", func(b *testing.B) {
		benchHandler(b, http.HandlerFunc(nativeHello))
	})
	b.Run("wat", func(b *testing.B) {
		benchHandler(b, newGuest(b, helloWAT, Config{}))
	})
	b.Run("go-sdk", func(b *testing.B) {
		wasm := testwasm.GoReactor(b, "examples/hello-wasm/go")
		h, err := Load(context.Background(), wasm, Config{})
		require.NoError(b, err)
		b.Cleanup(func() { _ = h.Close(context.Background()) })
		benchHandler(b, h)
	})
}

// BenchmarkHelloParallel is BenchmarkHello/wat with every core serving.
func BenchmarkHelloParallel(b *testing.B) {
	h := newGuest(b, helloWAT, Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{header: make(http.Header)}
		r := httptest.NewRequest("GET", "/hello?name=bench", nil)
		for pb.Next() {
			clear(w.header)
			h.ServeHTTP(w, r)
		}
	})
}
