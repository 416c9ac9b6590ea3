package host

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/procstat"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// These tests run guests written as an attacker would: each tries to keep
// the host busy, or to reach what the host added to it, in a way the
// instrumenter must not miss.

// fanOut calls itself twice to depth n: 2^n calls, and no loop anywhere.
const fanOut = `
  (func $fan (param $n i32)
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then
        (call $fan (i32.sub (local.get $n) (i32.const 1)))
        (call $fan (i32.sub (local.get $n) (i32.const 1))))))`

// fanWAT fans out to depth 60 on POST and answers "ok" otherwise.
var fanWAT = guestWAT(fanOut+`
  (func (export "handle_request") (result i64)
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then (call $fan (i32.const 60))))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))`, "0 ok")

// within runs f and fails the test if it has not returned after limit.
func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
	case <-time.After(limit):
		t.Fatalf("%s: still running after %s", what, limit)
	}
}

const runawayTimeout = 300 * time.Millisecond

// runawayLimit is how long a runaway may take to be stopped: the timeout
// plus half a second.
const runawayLimit = runawayTimeout + 500*time.Millisecond

func TestRecursionWithoutLoopsGets504(t *testing.T) {
	var logs logbuf.Buffer
	h := newGuest(t, fanWAT, Config{Timeout: runawayTimeout, MaxInstances: 1, Logger: logs.Logger()})
	var rec *httptest.ResponseRecorder
	within(t, runawayLimit, "recursing handler", func() { rec = serve(h, httptest.NewRequest("POST", "/", nil)) })
	assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
	assert.Contains(t, logs.String(), "guest exceeded its deadline")
	rec = serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, "ok", rec.Body.String(), "the next request is served")
}

func TestRecursionInInitializationIsRefused(t *testing.T) {
	for name, init := range map[string]string{
		"_initialize":   `(func (export "_initialize") (call $fan (i32.const 60)))`,
		"start section": `(func $init (call $fan (i32.const 60))) (start $init)`,
	} {
		t.Run(name, func(t *testing.T) {
			wasm := testwasm.WAT(t, guestWAT(fanOut+init+`
  (func (export "handle_request") (result i64) (i64.const 0))`))
			var err error
			within(t, runawayLimit, name, func() {
				_, err = New(context.Background(), wasm, Config{Timeout: runawayTimeout})
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "still running after the 300ms timeout")
		})
	}
}

func TestRecursionInACGICommandGets504(t *testing.T) {
	var logs logbuf.Buffer
	wasm := testwasm.WAT(t, `(module
  (memory (export "memory") 1)`+fanOut+`
  (func (export "_start") (call $fan (i32.const 60))))`)
	h, err := New(context.Background(), wasm, Config{Timeout: runawayTimeout, Logger: logs.Logger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	require.Equal(t, ModeCGI, h.Mode())
	for range 2 { // and the next run is stopped as well
		var rec *httptest.ResponseRecorder
		within(t, runawayLimit, "recursing command", func() { rec = serve(h, httptest.NewRequest("GET", "/", nil)) })
		assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
	}
	assert.Contains(t, logs.String(), "guest exceeded its deadline")
}

func TestALoopOfCostlyHostCallsKeepsTheDeadline(t *testing.T) {
	// Each call lists 10,000 header names: the loop's own checks come far
	// too rarely to keep time, so the host function must check.
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (loop $forever
      (drop (call $get_header_names (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $forever))
    (i64.const 0))`), Config{Timeout: runawayTimeout, MaxInstances: 1})
	r := httptest.NewRequest("GET", "/", nil)
	for i := range 10_000 {
		r.Header.Set("X-Header-"+strconv.Itoa(i), "v")
	}
	var rec *httptest.ResponseRecorder
	within(t, 2*runawayTimeout, "host-call loop", func() { rec = serve(h, r) })
	assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
}

func TestAModuleInvalidAsWrittenIsRefused(t *testing.T) {
	// The loop sets globals 0 and 1, which the module never defines: the
	// indices the instrumenter gives its budget and interrupt flag. As
	// written the module is invalid, and must stay refused.
	wasm := testwasm.WAT(t, `(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (loop $forever
      (global.set 0 (i32.const 1000))
      (global.set 1 (i32.const 0))
      (br $forever))
    (i64.const 0)))`, "--no-check")
	_, err := New(context.Background(), wasm, Config{Timeout: runawayTimeout})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a valid Wasm module")
}

// callUndeclaredType is 30 bytes: function 0 calls function 1, whose type
// (64) is past the module's only one. wazero v1.12.0's validator reaches
// the call before it checks function 1's type, and panics with "index out
// of range [64] with length 1".
var callUndeclaredType = []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00\x40\x0a\x09\x02\x04\x00\x10\x01\x0b\x02\x00\x0b")

func TestAFunctionOfAnUndeclaredTypeIsRefusedBeforeTheValidator(t *testing.T) {
	_, err := New(context.Background(), callUndeclaredType, Config{})
	require.Error(t, err)
	assert.Equal(t, "not a valid Wasm module: function 1 has type 64, but the module declares 1 types", err.Error())
}

func TestVectorsInsideEntriesAreBoundedBeforeTheDecoder(t *testing.T) {
	// A few bytes claim four billion entries inside one entry of a
	// section, which wazero's decoder would allocate at once (a fatal
	// out of memory, not a panic New could recover).
	for name, tc := range map[string]struct{ wasm, err string }{
		"a function type's parameters": {"\x00asm\x01\x00\x00\x00\x01\x08\x01\x60\xff\xff\xff\xff\x0f\x00",
			"a function type: a vector claims 4294967295 entries in 1 bytes"},
		"an element segment's functions": {"\x00asm\x01\x00\x00\x00\x09\x0c\x01\x01\x00\xff\xff\xff\xff\x0f0000",
			"an element segment: a vector claims 4294967295 entries in 4 bytes"},
		"a count cut off by the end of its section": {"\x00asm\x01\x00\x00\x00\x01\x06\x01\x60\xff\xff\xff\xff\x0f\x00",
			"a function type: a vector's count runs past the end of its section"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), []byte(tc.wasm), Config{})
			require.Error(t, err)
			assert.Equal(t, "not a valid Wasm module: "+tc.err, err.Error())
		})
	}
}

func TestACodeSectionWithTrailingBytesIsRefused(t *testing.T) {
	wasm := testwasm.WAT(t, guestWAT(`(func (export "handle_request") (result i64) (i64.const 0))`))
	secs, err := parseSections(wasm)
	require.NoError(t, err)
	out := append([]byte(nil), wasm[:8]...)
	for _, s := range secs {
		payload := s.payload
		if s.id == secCode {
			payload = append(append([]byte(nil), payload...), 0x00, 0x00)
		}
		out = append(append(append(out, s.id), uleb(uint32(len(payload)))...), payload...)
	}
	_, err = New(context.Background(), out, Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a valid Wasm module")
}

func TestHandlerMountsAreSealed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("hi from the host"), 0o644))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	require.NoError(t, os.Symlink("/", filepath.Join(dir, "up")))
	h, err := Load(context.Background(), testwasm.GoReactor(t, "host/testdata/readfile"),
		Config{Mounts: []Mount{{HostPath: dir, GuestPath: "/data"}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })

	rec := serve(h, httptest.NewRequest("GET", "/?/data/greeting.txt", nil))
	assert.Equal(t, "hi from the host", rec.Body.String())
	for _, escape := range []string{"/data/passwd", "/data/up/etc/passwd", "/data/../etc/passwd"} {
		rec := serve(h, httptest.NewRequest("GET", "/?"+escape, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s stays sealed", escape)
		assert.NotContains(t, rec.Body.String(), "root:", escape)
	}
}

func TestGuestSetHeadersAndStatusesAreSanitized(t *testing.T) {
	for name, body := range map[string]string{
		"control byte in a value": `(i32.store8 (i32.const 17) (i32.const 27)) (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 3))`,
		"conflicting lengths": `(call $add_header_value (i32.const 1) (i32.const 32) (i32.const 14) (i32.const 48) (i32.const 1))
    (call $add_header_value (i32.const 1) (i32.const 32) (i32.const 14) (i32.const 64) (i32.const 2))`,
		"length not a number": `(call $set_header_value (i32.const 1) (i32.const 32) (i32.const 14) (i32.const 16) (i32.const 3))`,
		"status 101":          `(call $set_status_code (i32.const 101))`,
		"status 103":          `(call $set_status_code (i32.const 103))`,
	} {
		t.Run(name, func(t *testing.T) {
			var logs logbuf.Buffer
			h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    `+body+`
    (call $write_body (i32.const 1) (i32.const 80) (i32.const 2))
    (i64.const 0))`, "0 X-Bad", "16 abc", "32 Content-Length", "48 5", "64 10", "80 ok"),
				Config{Logger: logs.Logger()})
			rec := serve(h, httptest.NewRequest("GET", "/", nil))
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Equal(t, 1, strings.Count(logs.String(), "\n"), "one log line: %s", logs.String())
		})
	}
}

func TestGuestLogIsBoundedPerCallAndPerRequest(t *testing.T) {
	var logs logbuf.Buffer
	// Each request logs 64 KiB a thousand times.
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (local $i i32)
    (memory.fill (i32.const 0) (i32.const 97) (i32.const 65536))
    (loop $more
      (call $log (i32.const 0) (i32.const 0) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000))))
    (i64.const 0))`), Config{Logger: logs.Logger()})
	for range 2 {
		assert.Equal(t, http.StatusOK, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		assert.Less(t, len(line), maxLogLine+200, "one call's line is cut")
	}
	assert.Less(t, len(logs.String()), 2*(maxLogPerRequest+4*maxLogLine), "each request's log is bounded")
	assert.Equal(t, 2, strings.Count(logs.String(), "guest log over the limit"), "said once per request")
}

func TestATrapAfterTheLogBudgetIsStillLogged(t *testing.T) {
	// A guest that spent its log budget cannot hide why its request
	// failed: the host's own line about the trap is outside the budget.
	var logs logbuf.Buffer
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (local $i i32)
    (loop $more
      (call $log (i32.const 0) (i32.const 0) (i32.const 65535))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 100))))
    unreachable)`), Config{Logger: logs.Logger()})
	assert.Equal(t, http.StatusInternalServerError, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	assert.True(t, strings.Contains(logs.String(), "guest log over the limit"), "the guest spent its budget")
	assert.True(t, strings.Contains(logs.String(), `msg="guest trapped"`), "the trap is logged")
}

func TestMalformedChunkedBodyIs400AtInfo(t *testing.T) {
	var logs logbuf.Buffer
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (drop (call $read_body (i32.const 0) (i32.const 0) (i32.const 1024)))
    (i64.const 0))`), Config{Logger: logs.Logger()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Contains(t, logs.String(), `level=INFO msg="malformed request body"`)
	assert.NotContains(t, logs.String(), "ERROR")
	assert.NotContains(t, logs.String(), "wasm stack trace")
}

// rss is the resident memory of this process, in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	n, err := procstat.RSS(os.Getpid())
	require.NoError(t, err)
	return n
}

func TestMaxMemoryRequestsReturnTheirMemory(t *testing.T) {
	// Eight requests at once each grow their memory to the maximum, touch
	// all of it, then trap: their instances are discarded, and their
	// memory must go back to the system at once.
	const maxMemory = 64 << 20
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (drop (memory.grow (i32.sub (i32.const 1024) (memory.size))))
    (memory.fill (i32.const 0) (i32.const 1) (i32.mul (memory.size) (i32.const 65536)))
    unreachable)`), Config{MaxMemory: maxMemory, MaxInstances: 8})
	before := rss(t)
	done := make(chan int)
	for range 8 {
		go func() { done <- serve(h, httptest.NewRequest("GET", "/", nil)).Code }()
	}
	for range 8 {
		assert.Equal(t, http.StatusInternalServerError, <-done)
	}
	after := rss(t)
	t.Logf("RSS before %d MiB, after %d MiB", before>>20, after>>20)
	assert.Less(t, after-before, int64(maxMemory), "the discarded instances' memory is returned")
}
