// Package hellowasm_test serves the hello handler of every language through
// the host and checks that they all behave the same.
package hellowasm_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/discard"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// examples builds each hello example from source.
var examples = []struct {
	name  string
	mode  host.Mode
	build func(testing.TB) string
}{
	{"go", host.ModeHandler, func(t testing.TB) string { return testwasm.GoReactor(t, "examples/hello-wasm/go") }},
	{"go-exchange", host.ModeHandler, func(t testing.TB) string {
		return testwasm.GoReactor(t, "examples/hello-wasm/go-exchange")
	}},
	{"c", host.ModeHandler, func(t testing.TB) string {
		return testwasm.C(t, true, "examples/hello-wasm/c/hello.c", "guest-sdk/c/wasmcluster.c")
	}},
	{"rust", host.ModeHandler, func(t testing.TB) string { return testwasm.Rust(t, "examples/hello-wasm/rust/hello.rs") }},
	{"assemblyscript", host.ModeHandler, func(t testing.TB) string {
		return testwasm.AssemblyScript(t, "examples/hello-wasm/assemblyscript/hello.ts")
	}},
	{"wat", host.ModeHandler, func(t testing.TB) string { return testwasm.WATFile(t, "examples/hello-wasm/wat/hello.wat") }},
	{"cgi-c", host.ModeCGI, func(t testing.TB) string { return testwasm.C(t, false, "examples/hello-wasm/cgi-c/hello.c") }},
	{"cgi-go", host.ModeCGI, func(t testing.TB) string { return testwasm.GoCommand(t, "examples/hello-wasm/cgi-go") }},
}

func load(t testing.TB, path string, want host.Mode) *host.Handler {
	t.Helper()
	h, err := host.Load(context.Background(), path, host.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	require.Equal(t, want, h.Mode(), "mode detected from the exports")
	return h
}

func TestEveryExampleBehavesTheSame(t *testing.T) {
	payload := bytes.Repeat([]byte("wasmcluster echoes this line.\n"), 1<<20/30) // ~1 MB
	requests := []struct {
		method, path string
		body         []byte
		want         string
	}{
		{"GET", "/some/path?x=1&y=2", nil, "Hello from wasmcluster: /some/path\n"},
		{"GET", "/", nil, "Hello from wasmcluster: /\n"},
		{"DELETE", "/item/7", nil, "Hello from wasmcluster: /item/7\n"},
		{"POST", "/echo", payload, string(payload)},
		{"POST", "/empty", []byte{}, ""},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			srv := httptest.NewServer(load(t, ex.build(t), ex.mode))
			defer srv.Close()
			for _, rq := range requests {
				req, err := http.NewRequest(rq.method, srv.URL+rq.path, bytes.NewReader(rq.body))
				require.NoError(t, err)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, res.StatusCode, "%s %s", rq.method, rq.path)
				assert.Equal(t, "wasmcluster", res.Header.Get("X-Hello"), "%s %s", rq.method, rq.path)
				assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"), "%s %s", rq.method, rq.path)
				assert.True(t, rq.want == string(body), "%s %s: got %d bytes %.60q", rq.method, rq.path, len(body), body)
			}
		})
	}
}

// BenchmarkHello measures one GET through each example in the same run:
// the reactors reuse live instances; the CGI commands start one per
// request.
func BenchmarkHello(b *testing.B) {
	for _, ex := range examples {
		b.Run(ex.name, func(b *testing.B) {
			discard.Benchmark(b, load(b, ex.build(b), ex.mode))
		})
	}
}
