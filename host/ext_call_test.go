package host

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
)

// callImports are the functions of the wasmcluster module a guest needs
// to call host functions.
const callImports = `
  (import "wasmcluster" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wasmcluster" "read_result" (func $read_result (param i32 i32) (result i32)))
  (import "wasmcluster" "last_error" (func $last_error (param i32 i32) (result i32)))
`

// callWAT calls the host function its request path names (/upper calls
// "upper") twice, with the request body as input, and answers
// "first|second", each the result, "error: " and the message, or
// "not found". A result over 4 KiB is read with read_result.
var callWAT = guestWATImporting(callImports, `
  (func (export "handle_request") (result i64)
    (local $n i32) (local $in i32)
    (local.set $n (call $get_uri (i32.const 1024) (i32.const 256)))
    (local.set $in (i32.wrap_i64 (call $read_body (i32.const 0) (i32.const 2048) (i32.const 4096))))
    (call $once (local.get $n) (local.get $in))
    (call $write_body (i32.const 1) (i32.const 32) (i32.const 1))
    (call $once (local.get $n) (local.get $in))
    (i64.const 0))
  (func $once (param $n i32) (param $in i32)
    (local $r i64) (local $len i32)
    (local.set $r (call $call (i32.const 1025) (i32.sub (local.get $n) (i32.const 1))
      (i32.const 2048) (local.get $in) (i32.const 8192) (i32.const 4096)))
    (if (i64.eq (local.get $r) (i64.const -2)) (then
      (call $write_body (i32.const 1) (i32.const 16) (i32.const 9))
      (return)))
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then
      (call $write_body (i32.const 1) (i32.const 0) (i32.const 7))
      (call $write_body (i32.const 1) (i32.const 8192) (call $last_error (i32.const 8192) (i32.const 4096)))
      (return)))
    (local.set $len (i32.wrap_i64 (local.get $r)))
    (if (i32.gt_u (local.get $len) (i32.const 4096)) (then
      (drop (call $read_result (i32.const 16384) (i32.const 49152)))
      (call $write_body (i32.const 1) (i32.const 16384) (local.get $len))
      (return)))
    (call $write_body (i32.const 1) (i32.const 8192) (local.get $len)))`,
	"0 error: ", "16 not found", "32 |")

// callGuest serves callWAT with the functions fns and returns a client
// call: the status and body of POST /name with body in.
func callGuest(t *testing.T, cfg Config) func(name, in string) (int, string) {
	t.Helper()
	h := newGuest(t, callWAT, cfg)
	return func(name, in string) (int, string) {
		req := httptest.NewRequest("POST", "/"+name, strings.NewReader(in))
		req.Header.Set("X-User", "alice")
		rec := serve(h, req)
		return rec.Code, rec.Body.String()
	}
}

func TestHostFunctions(t *testing.T) {
	var logs logbuf.Buffer
	var seen context.Context
	fns := map[string]Function{
		"upper": func(ctx context.Context, in []byte) ([]byte, error) {
			return append(bytes.ToUpper(in), " for "+RequestFromContext(ctx).Header.Get("X-User")...), nil
		},
		"fail": func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("no such account")
		},
		"panic": func(context.Context, []byte) ([]byte, error) {
			panic("function bug")
		},
		"big": func(_ context.Context, in []byte) ([]byte, error) {
			return bytes.Repeat([]byte("x"), 10000), nil
		},
		"huge": func(_ context.Context, in []byte) ([]byte, error) {
			return make([]byte, 2<<20), nil
		},
		"keep": func(ctx context.Context, in []byte) ([]byte, error) {
			seen = ctx
			return nil, ctx.Err()
		},
		"greet": JSONFunction(func(_ context.Context, in struct{ Name string }) (map[string]string, error) {
			return map[string]string{"greeting": "hello " + in.Name}, nil
		}),
	}
	call := callGuest(t, Config{Functions: fns, Logger: logs.Logger(), Timeout: 5 * time.Second,
		FunctionLimits: FunctionLimits{MaxInput: 64, MaxOutput: 1 << 20}})

	t.Run("bytes in and out, with the request", func(t *testing.T) {
		code, body := call("upper", "shout")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "SHOUT for alice|SHOUT for alice", body)
	})
	t.Run("an error reaches the guest with its message", func(t *testing.T) {
		code, body := call("fail", "")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "error: no such account|error: no such account", body)
	})
	t.Run("an unknown name is not found", func(t *testing.T) {
		_, body := call("nobody", "")
		assert.Equal(t, "not found|not found", body)
	})
	t.Run("a result bigger than the guest's buffer comes by read_result", func(t *testing.T) {
		_, body := call("big", "")
		assert.Equal(t, strings.Repeat("x", 10000)+"|"+strings.Repeat("x", 10000), body)
	})
	t.Run("typed JSON", func(t *testing.T) {
		_, body := call("greet", `{"Name":"bob"}`)
		assert.Equal(t, `{"greeting":"hello bob"}|{"greeting":"hello bob"}`, body)
		_, body = call("greet", `not json`)
		assert.Contains(t, body, "error: decode input: invalid character")
	})
	t.Run("input and output limits", func(t *testing.T) {
		_, body := call("upper", strings.Repeat("a", 65))
		assert.Contains(t, body, "error: call upper: input of 65 bytes is over the limit of 64|")
		_, body = call("huge", "")
		assert.Contains(t, body, "error: call huge: result of 2097152 bytes is over the limit of 1048576|")
	})
	t.Run("the context ends with the request and has its deadline", func(t *testing.T) {
		start := time.Now()
		_, body := call("keep", "")
		assert.Equal(t, "|", body, "the context was live during the call")
		require.NotNil(t, seen)
		deadline, ok := seen.Deadline()
		assert.True(t, ok)
		assert.WithinDuration(t, start.Add(5*time.Second), deadline, 2*time.Second)
		assert.ErrorIs(t, seen.Err(), context.Canceled, "cancelled at the end of the request")
	})
	t.Run("a panic answers 500 and the handler goes on", func(t *testing.T) {
		code, _ := call("panic", "")
		assert.Equal(t, http.StatusInternalServerError, code)
		assert.Contains(t, logs.String(), `msg="host function panicked" function=panic panic="function bug"`)
		code, body := call("upper", "again")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "AGAIN for alice|AGAIN for alice", body)
	})
}

func TestHostFunctionLimits(t *testing.T) {
	t.Run("calls per request", func(t *testing.T) {
		echo := func(_ context.Context, in []byte) ([]byte, error) { return in, nil }
		call := callGuest(t, Config{Functions: map[string]Function{"echo": echo},
			FunctionLimits: FunctionLimits{MaxCalls: 1}})
		_, body := call("echo", "one")
		assert.Equal(t, "one|error: call echo: over the limit of 1 calls per request", body)
		_, body = call("echo", "two")
		assert.Equal(t, "two|error: call echo: over the limit of 1 calls per request", body, "the count is per request")
	})
	t.Run("a function's time counts toward the deadline", func(t *testing.T) {
		ended := make(chan error, 1)
		wait := func(ctx context.Context, in []byte) ([]byte, error) {
			<-ctx.Done()
			select {
			case ended <- ctx.Err(): // the first call's end; the guest may call again
			default:
			}
			return nil, ctx.Err()
		}
		call := callGuest(t, Config{Functions: map[string]Function{"wait": wait}, Timeout: 300 * time.Millisecond})
		start := time.Now()
		code, body := call("wait", "")
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.ErrorIs(t, <-ended, context.DeadlineExceeded, "the function's context ends at the request's deadline")
		// The guest gets the error back, but the deadline has passed: it
		// answers with it, or the watchdog stops it first and the client
		// gets the 504. Either way the request ended on time.
		if code != http.StatusGatewayTimeout {
			assert.Contains(t, body, "error: context deadline exceeded")
		}
	})
}

func TestHostFunctionCallsAreCountedByFunctionAndOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	fns := map[string]Function{
		"ok":    func(context.Context, []byte) ([]byte, error) { return []byte("fine"), nil },
		"fail":  func(context.Context, []byte) ([]byte, error) { return nil, errors.New("no") },
		"panic": func(context.Context, []byte) ([]byte, error) { panic("bug") },
	}
	var logs logbuf.Buffer
	h := newGuest(t, callWAT, Config{Functions: fns, Metrics: reg, Logger: logs.Logger()})
	for _, name := range []string{"ok", "fail", "panic", "nobody", "also-nobody"} {
		serve(h, httptest.NewRequest("POST", "/"+name, nil))
	}
	calls := h.metrics.functionCalls
	assert.Equal(t, 2.0, testutil.ToFloat64(calls.WithLabelValues("ok", outcomeOK)), "the guest calls twice a request")
	assert.Equal(t, 2.0, testutil.ToFloat64(calls.WithLabelValues("fail", outcomeError)))
	assert.Equal(t, 1.0, testutil.ToFloat64(calls.WithLabelValues("panic", outcomeError)), "the panic ends the request")
	assert.Equal(t, 4.0, testutil.ToFloat64(calls.WithLabelValues(unregisteredLabel, outcomeNotFound)),
		"names no function has are one series")
	assert.Equal(t, 7, testutil.CollectAndCount(reg, "wasmcluster_host_function_calls_total"),
		"ok and error of each registered function, from the start, and one for names not registered")
}
