// Package discard has an http.ResponseWriter that keeps nothing, and a
// benchmark loop on it, so that benchmarks measure the handler rather
// than a recorder.
package discard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// ResponseWriter discards the body and keeps the header map for reuse:
// clear it between requests with Reset.
type ResponseWriter struct{ header http.Header }

// New returns a ResponseWriter with an empty header map.
func New() *ResponseWriter { return &ResponseWriter{header: make(http.Header)} }

// Header returns the header map.
func (d *ResponseWriter) Header() http.Header { return d.header }

// Write discards p.
func (d *ResponseWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader does nothing.
func (d *ResponseWriter) WriteHeader(int) {}

// Reset empties the header map for the next request.
func (d *ResponseWriter) Reset() { clear(d.header) }

// Benchmark serves the same GET request to h b.N times.
func Benchmark(b *testing.B, h http.Handler) {
	w := New()
	r := httptest.NewRequest("GET", "/hello?name=bench", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
	}
}
