// Package discard has an http.ResponseWriter that keeps nothing, so that
// benchmarks measure the handler rather than the recorder.
package discard

import "net/http"

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
