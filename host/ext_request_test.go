package host

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestWAT answers get_request's bytes as its body, with buf_limit the
// request's X-Limit header's length, or 8 KiB; a request too large for
// the buffer answers only the length it needs, as 8 bytes.
var requestWAT = guestWATImporting(`
  (import "wasmcluster" "get_request" (func $get_request (param i32 i32) (result i64)))
`, `
  (func (export "handle_request") (result i64)
    (local $limit i32) (local $n i64)
    (local.set $limit (i32.const 8192))
    (if (i64.ne (call $get_header_values (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 64)) (i64.const 0))
      (then (local.set $limit (i32.const 16))))
    (local.set $n (call $get_request (i32.const 1024) (local.get $limit)))
    (if (i64.gt_u (local.get $n) (i64.extend_i32_u (local.get $limit)))
      (then
        (i64.store (i32.const 1024) (local.get $n))
        (call $write_body (i32.const 1) (i32.const 1024) (i32.const 8))
        (return (i64.const 0))))
    (call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $n)))
    (i64.const 0))`, "0 x-limit")

// parts splits get_request's answer into its length-prefixed parts.
func parts(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 4, "a part's length")
		n := binary.LittleEndian.Uint32(b)
		require.LessOrEqual(t, int(n), len(b)-4, "a part runs past the end")
		out = append(out, string(b[4:4+n]))
		b = b[4+n:]
	}
	return out
}

func TestGetRequestIsTheRequestFunctionsInOneCall(t *testing.T) {
	h := newGuest(t, requestWAT, Config{})
	r := httptest.NewRequest("POST", "/p/a%20b?q=1", strings.NewReader("body"))
	r.Header.Add("X-Multi", "1")
	r.Header.Add("X-Multi", "2")
	r.Header.Set("Accept", "text/plain")
	r.TransferEncoding = []string{"chunked"}
	var got []string
	http.StripPrefix("/p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := serve(h, r)
		require.Equal(t, http.StatusOK, rec.Code)
		got = parts(t, rec.Body.Bytes())
	})).ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, []string{
		"POST", "/a%20b?q=1", "HTTP/1.1", "192.0.2.1:1234", "http",
		"accept\x00host\x00transfer-encoding\x00x-multi\x00",
		"text/plain\x00", "example.com\x00", "chunked\x00", "1\x002\x00",
	}, got, "what get_uri, get_header_names and get_header_values give, the URI as the app handed it on")

	r = httptest.NewRequest("GET", "https://example.com/", nil)
	got = parts(t, serve(h, r).Body.Bytes())
	require.Len(t, got, 7)
	assert.Equal(t, "https", got[4], "over TLS")
	assert.Equal(t, []string{"host\x00", "example.com\x00"}, got[5:])
}

func TestGetRequestTooLargeForTheBufferAnswersItsLength(t *testing.T) {
	h := newGuest(t, requestWAT, Config{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Limit", "small")
	body := serve(h, r).Body.Bytes()
	require.Len(t, body, 8)
	want := 5*4 + len("GET/HTTP/1.1192.0.2.1:1234http") + 4 + len("host\x00x-limit\x00") + 4 + len("example.com\x00") + 4 + len("small\x00")
	assert.Equal(t, uint64(want), binary.LittleEndian.Uint64(body), "nothing written, the length needed")
}
