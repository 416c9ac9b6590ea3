package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// echoNext is a next handler that reports what reached it.
var echoNext = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Next-Method", r.Method)
	w.Header().Set("X-Next-URI", r.URL.RequestURI())
	w.Header().Set("X-Next-Host", r.Host)
	w.Header().Set("X-Next-A", strings.Join(r.Header.Values("X-A"), ","))
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("next saw " + string(body)))
})

func TestABI(t *testing.T) {
	tests := []struct {
		name  string
		funcs string
		data  []string
		cfg   Config
		req   func() *http.Request
		check func(t *testing.T, res *http.Response, body string)
	}{{
		name: "hello",
		funcs: `(func (export "handle_request") (result i64)
			(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 11))
			(call $write_body (i32.const 1) (i32.const 32) (i32.const 5))
			(i64.const 0))`,
		data: []string{"0 X-Hello", "16 wasmcluster", "32 hello"},
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "wasmcluster", res.Header.Get("X-Hello"))
			assert.Equal(t, "hello", body)
		},
	}, {
		name: "get_method",
		funcs: `(func (export "handle_request") (result i64)
			(call $write_body (i32.const 1) (i32.const 1024) (call $get_method (i32.const 1024) (i32.const 64)))
			(i64.const 0))`,
		req: func() *http.Request { return httptest.NewRequest("DELETE", "/", nil) },
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "DELETE", body)
		},
	}, {
		name: "buf_limit too small writes nothing and returns the length",
		funcs: `(func (export "handle_request") (result i64)
			(call $set_status_code (i32.add (i32.const 200) (call $get_method (i32.const 1024) (i32.const 2))))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.const 3))
			(i64.const 0))`,
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, 203, res.StatusCode, "len(GET) reported")
			assert.Equal(t, "\x00\x00\x00", body, "nothing written")
		},
	}, {
		name: "set_method set_uri and request headers reach next",
		funcs: `(func (export "handle_request") (result i64)
			(call $set_method (i32.const 0) (i32.const 5))
			(call $set_uri (i32.const 16) (i32.const 14))
			(call $add_header_value (i32.const 0) (i32.const 32) (i32.const 3) (i32.const 48) (i32.const 1))
			(call $add_header_value (i32.const 0) (i32.const 32) (i32.const 3) (i32.const 49) (i32.const 1))
			(call $set_header_value (i32.const 0) (i32.const 64) (i32.const 4) (i32.const 80) (i32.const 8))
			(call $remove_header (i32.const 0) (i32.const 96) (i32.const 5))
			(i64.const 1))`,
		data: []string{"0 PATCH", "16 /rewritten?x=1", "32 X-A", "48 12", "64 Host", "80 new.host", "96 X-Del"},
		cfg:  Config{Next: echoNext},
		req: func() *http.Request {
			r := httptest.NewRequest("GET", "/orig?y=2", nil)
			r.Header.Set("X-Del", "gone")
			return r
		},
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, http.StatusAccepted, res.StatusCode)
			assert.Equal(t, "PATCH", res.Header.Get("X-Next-Method"))
			assert.Equal(t, "/rewritten?x=1", res.Header.Get("X-Next-URI"))
			assert.Equal(t, "new.host", res.Header.Get("X-Next-Host"))
			assert.Equal(t, "1,2", res.Header.Get("X-Next-A"))
			assert.Equal(t, "next saw ", body)
		},
	}, {
		name: "get_uri get_protocol_version get_source_addr",
		funcs: `(func (export "handle_request") (result i64)
			(call $write_body (i32.const 1) (i32.const 1024) (call $get_uri (i32.const 1024) (i32.const 256)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(call $write_body (i32.const 1) (i32.const 1024) (call $get_protocol_version (i32.const 1024) (i32.const 256)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(call $write_body (i32.const 1) (i32.const 1024) (call $get_source_addr (i32.const 1024) (i32.const 256)))
			(i64.const 0))`,
		data: []string{"0 |"},
		req:  func() *http.Request { return httptest.NewRequest("GET", "/a/b%20c?q=1&r=%2F", nil) },
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "/a/b%20c?q=1&r=%2F|HTTP/1.1|192.0.2.1:1234", body)
		},
	}, {
		name: "get_header_names and get_header_values",
		funcs: `(func (export "handle_request") (result i64)
			(local $r i64)
			(local.set $r (call $get_header_names (i32.const 0) (i32.const 1024) (i32.const 512)))
			(call $set_status_code (i32.add (i32.const 200) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(local.set $r (call $get_header_values (i32.const 0) (i32.const 16) (i32.const 7) (i32.const 1024) (i32.const 512)))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(local.set $r (call $get_header_values (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 1024) (i32.const 512)))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(local.set $r (call $get_header_values (i32.const 0) (i32.const 48) (i32.const 9) (i32.const 1024) (i32.const 512)))
			(call $write_body (i32.const 1) (i32.const 0) (i32.wrap_i64 (local.get $r)))
			(i64.const 0))`,
		data: []string{"0 |", "16 x-multi", "32 HOST", "48 X-Missing"},
		req: func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Add("X-Multi", "a")
			r.Header.Add("X-Multi", "b")
			r.Header.Set("Accept", "*/*")
			return r
		},
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, 203, res.StatusCode, "three names: accept, x-multi, host")
			parts := strings.Split(body, "|")
			require.Len(t, parts, 4)
			names := strings.Split(strings.TrimSuffix(parts[0], "\x00"), "\x00")
			sort.Strings(names)
			assert.Equal(t, []string{"accept", "host", "x-multi"}, names)
			assert.Equal(t, "a\x00b\x00", parts[1])
			assert.Equal(t, "example.com\x00", parts[2])
			assert.Equal(t, "", parts[3], "a missing header has count_len 0")
		},
	}, {
		name: "response headers set add remove",
		funcs: `(func (export "handle_request") (result i64)
			(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 1))
			(call $add_header_value (i32.const 1) (i32.const 32) (i32.const 10) (i32.const 48) (i32.const 3))
			(call $add_header_value (i32.const 1) (i32.const 32) (i32.const 10) (i32.const 52) (i32.const 3))
			(call $set_header_value (i32.const 1) (i32.const 64) (i32.const 5) (i32.const 16) (i32.const 1))
			(call $remove_header (i32.const 1) (i32.const 64) (i32.const 5))
			(i64.const 0))`,
		data: []string{"0 X-One", "16 1", "32 Set-Cookie", "48 a=b", "52 c=d", "64 X-Del"},
		check: func(t *testing.T, res *http.Response, _ string) {
			assert.Equal(t, "1", res.Header.Get("X-One"))
			assert.Equal(t, []string{"a=b", "c=d"}, res.Header.Values("Set-Cookie"))
			assert.Empty(t, res.Header.Values("X-Del"))
		},
	}, {
		name: "read_body in small chunks echoes the body",
		funcs: `(func (export "handle_request") (result i64)
			(local $r i64)
			(loop $more
				(local.set $r (call $read_body (i32.const 0) (i32.const 1024) (i32.const 7)))
				(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
				(br_if $more (i64.eqz (i64.shr_u (local.get $r) (i64.const 32)))))
			(i64.const 0))`,
		req: func() *http.Request {
			return httptest.NewRequest("POST", "/", strings.NewReader("the quick brown fox jumps over the lazy dog"))
		},
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "the quick brown fox jumps over the lazy dog", body)
		},
	}, {
		name: "write_body on the request replaces what next reads",
		funcs: `(func (export "handle_request") (result i64)
			(call $write_body (i32.const 0) (i32.const 0) (i32.const 3))
			(call $write_body (i32.const 0) (i32.const 16) (i32.const 3))
			(i64.const 1))`,
		data: []string{"0 new", "16 er!"},
		cfg:  Config{Next: echoNext},
		req:  func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("old body")) },
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "next saw newer!", body)
		},
	}, {
		name: "buffer request lets next read what the guest read",
		funcs: `(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const 1)))
			(drop (call $read_body (i32.const 0) (i32.const 1024) (i32.const 4)))
			(i64.const 1))`,
		cfg: Config{Next: echoNext},
		req: func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("whole body")) },
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "next saw whole body", body)
		},
	}, {
		name: "without buffer request next reads the rest",
		funcs: `(func (export "handle_request") (result i64)
			(drop (call $read_body (i32.const 0) (i32.const 1024) (i32.const 6)))
			(i64.const 1))`,
		cfg: Config{Next: echoNext},
		req: func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("whole body")) },
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "next saw body", body)
		},
	}, {
		name: "buffer response lets handle_response rewrite next's response",
		funcs: `(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const 2)))
			(i64.const 0x2a00000001))
		(func (export "handle_response") (param $ctx i32) (param $err i32)
			(local $r i64)
			(if (i32.ne (local.get $ctx) (i32.const 42)) (then unreachable))
			(if (local.get $err) (then unreachable))
			(call $set_status_code (i32.add (call $get_status_code) (i32.const 1)))
			(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 9) (i32.const 16) (i32.const 3))
			(local.set $r (call $read_body (i32.const 1) (i32.const 1024) (i32.const 512)))
			(call $write_body (i32.const 1) (i32.const 32) (i32.const 8))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r))))`,
		data: []string{"0 X-Wrapped", "16 yes", "32 wrapped:"},
		cfg:  Config{Next: echoNext},
		req:  func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("x")) },
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, http.StatusAccepted+1, res.StatusCode)
			assert.Equal(t, "yes", res.Header.Get("X-Wrapped"))
			assert.Equal(t, "POST", res.Header.Get("X-Next-Method"), "next's headers kept")
			assert.Equal(t, "wrapped:next saw x", body)
		},
	}, {
		name: "without buffer response next's response goes straight out",
		funcs: `(func (export "handle_request") (result i64) (i64.const 1))
		(func (export "handle_response") (param $ctx i32) (param $err i32)
			(call $set_status_code (i32.add (call $get_status_code) (i32.const 1))))`,
		cfg: Config{Next: echoNext},
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, http.StatusAccepted, res.StatusCode)
			assert.Equal(t, "next saw ", body)
		},
	}, {
		name: "get_config",
		funcs: `(func (export "handle_request") (result i64)
			(call $write_body (i32.const 1) (i32.const 1024) (call $get_config (i32.const 1024) (i32.const 64)))
			(i64.const 0))`,
		cfg: Config{GuestConfig: []byte("enabled=1\n")},
		check: func(t *testing.T, _ *http.Response, body string) {
			assert.Equal(t, "enabled=1\n", body)
		},
	}, {
		name: "enable_features reports what is enabled",
		funcs: `(func (export "handle_request") (result i64)
			(call $set_status_code (i32.add (i32.const 200) (call $enable_features (i32.const 0xff))))
			(i64.const 0))`,
		check: func(t *testing.T, res *http.Response, _ string) {
			assert.Equal(t, 207, res.StatusCode, "buffer request|buffer response|trailers")
		},
	}, {
		name: "trailers",
		funcs: `(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const 4)))
			(call $write_body (i32.const 1) (i32.const 32) (i32.const 4))
			(call $set_header_value (i32.const 3) (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 3))
			(i64.const 0))`,
		data: []string{"0 X-Checksum", "16 abc", "32 body"},
		check: func(t *testing.T, res *http.Response, body string) {
			assert.Equal(t, "body", body)
			assert.Equal(t, "abc", res.Trailer.Get("X-Checksum"))
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newGuest(t, guestWAT(tc.funcs, tc.data...), tc.cfg)
			req := httptest.NewRequest("GET", "/", nil)
			if tc.req != nil {
				req = tc.req()
			}
			res := serve(h, req).Result()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			tc.check(t, res, string(body))
		})
	}
}

func TestLogAndLogEnabled(t *testing.T) {
	var logs logbuf.Buffer
	logger := logs.Logger()
	h := newGuest(t, guestWAT(`(func (export "handle_request") (result i64)
		(call $log (i32.const 1) (i32.const 0) (i32.const 11))
		(call $set_status_code (i32.add (i32.const 200) (call $log_enabled (i32.const -1))))
		(i64.const 0))`, "0 hello world"), Config{Logger: logger})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-Id", "req-7")
	assert.Equal(t, 201, serve(h, req).Code, "debug is enabled")
	assert.Contains(t, logs.String(), `level=WARN msg="hello world" request_id=req-7`)
}

func TestNextDefaultsTo404AndWrapReachesNext(t *testing.T) {
	h := newGuest(t, guestWAT(`(func (export "handle_request") (result i64) (i64.const 1))`), Config{})
	assert.Equal(t, http.StatusNotFound, serve(h, httptest.NewRequest("GET", "/", nil)).Code)

	mw := h.Wrap(echoNext)
	rec := serve(mw, httptest.NewRequest("GET", "/x", nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "/x", rec.Header().Get("X-Next-URI"))
}

func TestTrailersWithoutTheFeatureTrap(t *testing.T) {
	var logs logbuf.Buffer
	h := newGuest(t, guestWAT(`(func (export "handle_request") (result i64)
		(call $set_header_value (i32.const 3) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
		(i64.const 0))`, "0 X"), Config{Logger: logs.Logger()})
	assert.Equal(t, http.StatusInternalServerError, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	assert.Contains(t, logs.String(), "trailers are used without enabling the trailers feature")
}

func TestGuestStdoutGoesToTheLog(t *testing.T) {
	var logs logbuf.Buffer
	wat := `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\08\00\00\00\0d\00\00\00line one\0apart")
  (func (export "handle_request") (result i64)
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 64)))
    (i64.const 0)))`
	h := newGuest(t, wat, Config{Logger: logs.Logger()})
	require.Equal(t, http.StatusOK, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	out := logs.String()
	assert.Contains(t, out, `msg="guest stdout" line="line one" request_id=`)
	assert.Contains(t, out, `msg="guest stdout" line=part request_id=`, "a partial line is flushed at the end of the request")
}

func TestEnableFeaturesAtInitLastsForEveryRequest(t *testing.T) {
	h := newGuest(t, guestWAT(`
		(func $init (drop (call $enable_features (i32.const 1))))
		(start $init)
		(func (export "handle_request") (result i64)
			(drop (call $read_body (i32.const 0) (i32.const 1024) (i32.const 2)))
			(i64.const 1))`), Config{Next: echoNext})
	for range 3 {
		rec := serve(h, httptest.NewRequest("POST", "/", strings.NewReader("abcd")))
		assert.Equal(t, "next saw abcd", rec.Body.String())
	}
}

func TestLoadErrorsAreOneClearLine(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		wasm []byte
		cfg  Config
		want string
	}{
		{"garbage", []byte("definitely not wasm"), Config{}, "not a valid Wasm module"},
		{"no exports", testwasm.WAT(t, `(module (memory (export "memory") 1))`), Config{},
			"module exports neither handle_request (an http-wasm handler) nor _start (a WASI command)"},
		{"wrong signature", testwasm.WAT(t, `(module (memory (export "memory") 1) (func (export "handle_request")))`), Config{},
			"export handle_request has signature ()->(), want ()->(i64)"},
		{"no memory", testwasm.WAT(t, `(module (func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			`module does not export its memory as "memory"`},
		{"unknown import", testwasm.WAT(t, `(module (import "env" "abort" (func)) (memory (export "memory") 1)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"module imports env.abort; wasmcluster provides only http_handler, wasmcluster and wasi_snapshot_preview1"},
		{"unknown ABI function", testwasm.WAT(t, `(module (import "http_handler" "get_path" (func)) (memory (export "memory") 1)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"module imports http_handler.get_path, which is not part of the http-wasm handler ABI"},
		{"unknown wasmcluster function", testwasm.WAT(t, `(module (import "wasmcluster" "teleport" (func)) (memory (export "memory") 1)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"module imports wasmcluster.teleport, which this wasmcluster does not provide"},
		{"forced mode without the export", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{Mode: ModeCGI},
			"module does not export _start, which a WASI command must"},
		{"memory over the limit", testwasm.WAT(t, `(module (memory (export "memory") 20)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{MaxMemory: 1 << 20},
			"module needs 1.25 MiB of memory to start, over the limit of 1 MiB"},
		{"trap in initialization", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func (export "_initialize") unreachable)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"initialize instance: wasm error: unreachable"},
		{"runaway initialization", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func (export "_initialize") (loop (br 0)))
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{Timeout: 200 * time.Millisecond},
			"initialize instance: still running after the 200ms timeout"},
		{"runaway start function", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func $start (loop (br 0)))
			(start $start)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{Timeout: 200 * time.Millisecond},
			"initialize instance: still running after the 200ms timeout"},
		{"trap in _start", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func (export "_start") unreachable)
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"initialize instance: wasm error: unreachable"},
		{"runaway _start", testwasm.WAT(t, `(module (memory (export "memory") 1)
			(func (export "_start") (loop (br 0)))
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{Timeout: 200 * time.Millisecond},
			"initialize instance: still running after the 200ms timeout"},
		{"_start exits, as a Go command does", testwasm.WAT(t, `(module
			(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
			(memory (export "memory") 1)
			(func (export "_start") (call $exit (i32.const 0)))
			(func (export "handle_request") (result i64) (i64.const 0)))`), Config{},
			"build a Go handler with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"},
		{"no memory, and a loop", testwasm.WAT(t, `(module
			(func (export "handle_request") (result i64) (loop) (i64.const 0)))`), Config{},
			`module does not export its memory as "memory"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(ctx, tc.wasm, tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
	_, err := Load(ctx, "testdata/does-not-exist.wasm", Config{})
	require.ErrorContains(t, err, "load module: open testdata/does-not-exist.wasm: no such file or directory")
}

func TestLastErrorAndReadResultStartEmptyInEveryRequest(t *testing.T) {
	// With no call made, both answer length 0; the guest answers the sum.
	h := newGuest(t, `(module
		(import "wasmcluster" "read_result" (func $read_result (param i32 i32) (result i32)))
		(import "wasmcluster" "last_error" (func $last_error (param i32 i32) (result i32)))
		(import "http_handler" "set_status_code" (func $set_status_code (param i32)))
		(memory (export "memory") 1)
		(func (export "handle_request") (result i64)
			(call $set_status_code (i32.add (i32.const 200)
				(i32.add (call $read_result (i32.const 0) (i32.const 64)) (call $last_error (i32.const 0) (i32.const 64)))))
			(i64.const 0)))`, Config{})
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 200, rec.Code)
}

func TestRequestURIIsWhatTheURLSays(t *testing.T) {
	for _, target := range []string{"/", "/x", "/x?q=1&r=2", "/x?", "/a%20b", "/a%2Fb/c", "/%7Euser", "http://example.com/p?q", "*", "/p/x?q=1"} {
		r := httptest.NewRequest("GET", target, nil)
		assert.Equal(t, r.URL.RequestURI(), requestURI(r), target)
		if target == "/p/x?q=1" {
			http.StripPrefix("/p", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "/x?q=1", requestURI(r), "after StripPrefix")
			})).ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	r := httptest.NewRequest("GET", "/x?q=1", nil)
	r.URL.RawQuery = "q=2"
	assert.Equal(t, "/x?q=2", requestURI(r), "a query the app changed")
}
