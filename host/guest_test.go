package host

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// abiImports declares every host function of the ABI for WAT test guests.
const abiImports = `
  (import "http_handler" "enable_features" (func $enable_features (param i32) (result i32)))
  (import "http_handler" "get_config" (func $get_config (param i32 i32) (result i32)))
  (import "http_handler" "log_enabled" (func $log_enabled (param i32) (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "set_method" (func $set_method (param i32 i32)))
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_uri" (func $set_uri (param i32 i32)))
  (import "http_handler" "get_protocol_version" (func $get_protocol_version (param i32 i32) (result i32)))
  (import "http_handler" "get_header_names" (func $get_header_names (param i32 i32 i32) (result i64)))
  (import "http_handler" "get_header_values" (func $get_header_values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "add_header_value" (func $add_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "remove_header" (func $remove_header (param i32 i32 i32)))
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "get_status_code" (func $get_status_code (result i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (import "http_handler" "get_source_addr" (func $get_source_addr (param i32 i32) (result i32)))
`

// guestWAT returns a test guest: every ABI import, one page of memory
// exported as "memory", the data segments (each "offset text"), and funcs,
// which define at least handle_request.
func guestWAT(funcs string, data ...string) string {
	return guestWATImporting("", funcs, data...)
}

// guestWATImporting is guestWAT with more imports, such as functions of
// the wasmcluster module.
func guestWATImporting(imports, funcs string, data ...string) string {
	var b strings.Builder
	b.WriteString("(module\n" + abiImports + imports + "  (memory (export \"memory\") 1)\n")
	for _, d := range data {
		offset, text, _ := strings.Cut(d, " ")
		fmt.Fprintf(&b, "  (data (i32.const %s) %q)\n", offset, text)
	}
	b.WriteString(funcs + "\n)\n")
	return b.String()
}

// newGuest assembles a guest from WAT and starts a Handler for it.
func newGuest(t testing.TB, wat string, cfg Config) *Handler {
	t.Helper()
	h, err := New(context.Background(), testwasm.WAT(t, wat), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

// serve runs one request through h and returns the recorded response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// helloWAT is the hello handler in WAT: a header, then the greeting and
// the request URI as the body.
var helloWAT = guestWAT(`
  (func (export "handle_request") (result i64)
    (local $len i32)
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 11))
    (call $write_body (i32.const 1) (i32.const 32) (i32.const 24))
    (local.set $len (call $get_uri (i32.const 1024) (i32.const 4096)))
    (call $write_body (i32.const 1) (i32.const 1024) (local.get $len))
    (i64.const 0))`,
	"0 X-Hello", "16 wasmcluster", "32 Hello from wasmcluster: ")

// nativeHello does what helloWAT does, in Go.
func nativeHello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Hello", "wasmcluster")
	_, _ = io.WriteString(w, "Hello from wasmcluster: ")
	_, _ = io.WriteString(w, r.RequestURI)
}
