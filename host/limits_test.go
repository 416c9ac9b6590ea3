package host

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wasmcluster/wasmcluster/internal/logbuf"
)

// counterWAT counts the requests its instance served and answers with the
// count as one digit; a POST traps instead.
var counterWAT = guestWAT(`
  (global $n (mut i32) (i32.const 0))
  (func (export "handle_request") (result i64)
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then unreachable))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $n)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
    (i64.const 0))`)

func TestTrapAnswers500AndReplacesTheInstance(t *testing.T) {
	var logs logbuf.Buffer
	h := newGuest(t, counterWAT, Config{MaxInstances: 1, Logger: logs.Logger()})
	get := func() string { return serve(h, httptest.NewRequest("GET", "/", nil)).Body.String() }

	assert.Equal(t, "1", get())
	assert.Equal(t, "2", get(), "the instance is reused")

	rec := serve(h, httptest.NewRequest("POST", "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "Internal Server Error\n", rec.Body.String(), "no guest internals leak")
	assert.Contains(t, logs.String(), "wasm error: unreachable")

	assert.Equal(t, "1", get(), "a fresh instance replaced the one that trapped")
}

// spinWAT loops forever on POST and answers "ok" otherwise.
var spinWAT = guestWAT(`
  (func (export "handle_request") (result i64)
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then (loop $forever (br $forever))))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))`, "0 ok")

func TestRunawayGuestGets504WithinTheDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	var logs logbuf.Buffer
	h := newGuest(t, spinWAT, Config{Timeout: timeout, MaxInstances: 1, Logger: logs.Logger()})

	start := time.Now()
	rec := serve(h, httptest.NewRequest("POST", "/", nil))
	elapsed := time.Since(start)
	assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
	// The bound the README promises: timeout + 0.5 s.
	assert.Less(t, elapsed, timeout+500*time.Millisecond)
	assert.GreaterOrEqual(t, elapsed, timeout)
	assert.Contains(t, logs.String(), `msg="guest exceeded its deadline" timeout=300ms`)

	for range 3 {
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "ok", rec.Body.String(), "the pool still serves")
	}
}

func TestClientGoneInterruptsTheGuest(t *testing.T) {
	h := newGuest(t, spinWAT, Config{Timeout: time.Minute, MaxInstances: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(h, httptest.NewRequest("POST", "/", nil).WithContext(ctx))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the guest kept running after its client went away")
	}
	assert.Equal(t, "ok", serve(h, httptest.NewRequest("GET", "/", nil)).Body.String())
}

func TestMemoryBombGets500AndStaysUnderTheLimit(t *testing.T) {
	// The guest grows its memory until it cannot; a GET then answers the
	// pages it reached, as one byte, and a POST traps.
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then unreachable))
    (i32.store8 (i32.const 0) (memory.size))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
    (i64.const 0))`), Config{MaxMemory: 4 << 20})
	rec := serve(h, httptest.NewRequest("POST", "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	rec = serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, []byte{64}, rec.Body.Bytes(), "grew to 4 MiB (64 pages) and no further")
}

func TestOutOfBoundsPointersTrap(t *testing.T) {
	const oob = "(i32.const 0xfffffff0)"
	calls := map[string]string{
		"get_config":             "(drop (call $get_config " + oob + " (i32.const 64)))",
		"log":                    "(call $log (i32.const 0) " + oob + " (i32.const 64))",
		"get_method":             "(drop (call $get_method " + oob + " (i32.const 64)))",
		"set_method":             "(call $set_method " + oob + " (i32.const 3))",
		"get_uri":                "(drop (call $get_uri " + oob + " (i32.const 64)))",
		"set_uri":                "(call $set_uri " + oob + " (i32.const 3))",
		"get_protocol_version":   "(drop (call $get_protocol_version " + oob + " (i32.const 64)))",
		"get_header_names":       "(drop (call $get_header_names (i32.const 0) " + oob + " (i32.const 64)))",
		"get_header_values":      "(drop (call $get_header_values (i32.const 0) " + oob + " (i32.const 4) (i32.const 0) (i32.const 64)))",
		"get_header_values buf":  "(drop (call $get_header_values (i32.const 0) (i32.const 0) (i32.const 4) " + oob + " (i32.const 64)))",
		"set_header_value":       "(call $set_header_value (i32.const 1) " + oob + " (i32.const 4) (i32.const 0) (i32.const 4))",
		"set_header_value value": "(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 4) " + oob + " (i32.const 4))",
		"add_header_value":       "(call $add_header_value (i32.const 1) " + oob + " (i32.const 4) (i32.const 0) (i32.const 4))",
		"remove_header":          "(call $remove_header (i32.const 1) " + oob + " (i32.const 4))",
		"read_body":              "(drop (call $read_body (i32.const 0) " + oob + " (i32.const 64)))",
		"write_body":             "(call $write_body (i32.const 1) " + oob + " (i32.const 64))",
		"get_source_addr":        "(drop (call $get_source_addr " + oob + " (i32.const 64)))",
		"length past the end":    "(call $write_body (i32.const 1) (i32.const 0) (i32.const 0x10001))",
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var logs logbuf.Buffer
			h := newGuest(t, guestWAT(`(func (export "handle_request") (result i64) `+call+` (i64.const 0))`, "0 Host"),
				Config{GuestConfig: []byte("config"), Logger: logs.Logger()})
			req := httptest.NewRequest("POST", "/", strings.NewReader("body"))
			rec := serve(h, req)
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Contains(t, logs.String(), "outside guest memory")
		})
	}
}

func TestRequestBodyOverTheLimitGets413(t *testing.T) {
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (loop $more
      (br_if $more (i64.eqz (i64.shr_u (call $read_body (i32.const 0) (i32.const 1024) (i32.const 4096)) (i64.const 32)))))
    (i64.const 0))`), Config{MaxRequestBody: 1000})

	declared := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 2000)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, declared).Code, "Content-Length over the limit")

	chunked := httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(strings.Repeat("x", 2000))))
	chunked.ContentLength = -1
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, chunked).Code, "streamed body over the limit")

	small := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1000)))
	assert.Equal(t, http.StatusOK, serve(h, small).Code)
}

func TestResponseOverTheLimit(t *testing.T) {
	// write_body of 60 bytes n times, n taken from the URI length.
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (local $n i32)
    (local.set $n (i32.sub (call $get_uri (i32.const 1024) (i32.const 64)) (i32.const 1)))
    (loop $more
      (call $write_body (i32.const 1) (i32.const 0) (i32.const 60))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $more (i32.gt_s (local.get $n) (i32.const 0))))
    (i64.const 0))`), Config{MaxResponseBody: 100})

	rec := serve(h, httptest.NewRequest("GET", "/a", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Len(t, rec.Body.String(), 60)

	// The second write is over the limit after the first went out: the
	// client must see a broken response, not a short one.
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/ab")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
	}
	assert.Error(t, err, "the connection is cut")
}

func TestWaitingForAFreeInstanceIsBoundedByTheRequest(t *testing.T) {
	h := newGuest(t, spinWAT, Config{Timeout: time.Second, MaxInstances: 1})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		serve(h, httptest.NewRequest("POST", "/", nil))
	}()
	time.Sleep(50 * time.Millisecond) // let the spinning request take the only instance
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := serve(h, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "gave up waiting")
	<-busy
	assert.Equal(t, "ok", serve(h, httptest.NewRequest("GET", "/", nil)).Body.String())
}

func TestWaitingForAFreeInstanceIsBoundedByTheQueueTimeout(t *testing.T) {
	h := newGuest(t, spinWAT, Config{Timeout: 3 * time.Second, MaxInstances: 1, QueueTimeout: 100 * time.Millisecond})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		serve(h, httptest.NewRequest("POST", "/", nil))
	}()
	time.Sleep(50 * time.Millisecond) // let the spinning request take the only instance
	start := time.Now()
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "gave up waiting")
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Less(t, time.Since(start), 2*time.Second, "long before the guest's deadline")
	<-busy
}

func TestConcurrentRequests(t *testing.T) {
	h := newGuest(t, helloWAT, Config{MaxInstances: 8})
	srv := httptest.NewServer(h)
	defer srv.Close()

	const n = 128
	errs := make(chan error, n)
	for i := range n {
		go func() {
			path := fmt.Sprintf("/req/%d", i)
			res, err := http.Get(srv.URL + path)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if err == nil && string(body) != "Hello from wasmcluster: "+path {
				err = fmt.Errorf("%s: got %q", path, body)
			}
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
}

func TestRunawayGuestDoesNotStallTheRuntime(t *testing.T) {
	h := newGuest(t, spinWAT, Config{Timeout: 2 * time.Second, MaxInstances: 1})
	done := make(chan int, 1)
	go func() { done <- serve(h, httptest.NewRequest("POST", "/", nil)).Code }()
	time.Sleep(100 * time.Millisecond) // the guest spins now

	gc := make(chan struct{})
	go func() {
		runtime.GC() // stops the world: the spinning guest must let it
		close(gc)
	}()
	select {
	case <-gc:
	case <-time.After(time.Second):
		t.Fatal("a collection waited on a spinning guest")
	}
	assert.Equal(t, http.StatusGatewayTimeout, <-done)
}

func TestInstrumenterRefusesWhatItCannotRead(t *testing.T) {
	err := skipImmediates(&wasmReader{b: []byte{0x00}}, 0x1f) // try_table
	assert.ErrorIs(t, err, errUnsupported)
	_, err = parseSections([]byte("not wasm"))
	assert.Error(t, err)
}

func TestBufferedNextResponseOverTheLimit(t *testing.T) {
	var logs logbuf.Buffer
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 200)))
	})
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (drop (call $enable_features (i32.const 2)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32) unreachable)`),
		Config{MaxResponseBody: 100, Next: big, Logger: logs.Logger()})
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, logs.String(), "the next handler's response is over the limit")
	assert.NotContains(t, logs.String(), "unreachable", "handle_response did not run on a cut-off body")
}
