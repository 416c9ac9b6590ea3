package host

import (
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

// outcomesWAT answers by method: GET "ok", POST loops forever, PATCH grows
// memory until it cannot and traps, DELETE traps at once.
var outcomesWAT = guestWAT(`
  (func (export "handle_request") (result i64)
    (local $m i32)
    (local.set $m (call $get_method (i32.const 1024) (i32.const 16)))
    (if (i32.eq (local.get $m) (i32.const 4))
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $m) (i32.const 5))
      (then
        (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        unreachable))
    (if (i32.eq (local.get $m) (i32.const 6))
      (then unreachable))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))`, "0 ok")

func TestMetricsCountWhatBecameOfRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newGuest(t, outcomesWAT, Config{Metrics: reg, Timeout: 200 * time.Millisecond, MaxMemory: 1 << 20,
		MaxRequestBody: 10, MaxInstances: 2})
	// A second Handler on the same registry shares the series.
	other := newGuest(t, outcomesWAT, Config{Metrics: reg})

	codes := map[string]int{}
	for _, method := range []string{"GET", "GET", "POST", "PATCH", "DELETE", "DELETE"} {
		codes[method] = serve(h, httptest.NewRequest(method, "/", nil)).Code
	}
	assert.Equal(t, map[string]int{"GET": 200, "POST": 504, "PATCH": 500, "DELETE": 500}, codes)
	big := httptest.NewRequest("GET", "/", strings.NewReader("more than ten bytes"))
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, big).Code)
	assert.Equal(t, http.StatusOK, serve(other, httptest.NewRequest("GET", "/", nil)).Code)
	assert.Equal(t, http.StatusOK, serve(h, httptest.NewRequest("GET", "/", nil)).Code)

	m := h.metrics
	assert.Equal(t, 2.0, testutil.ToFloat64(m.traps), "DELETE twice")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.timeouts))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.refusals.WithLabelValues(limitMemory)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.refusals.WithLabelValues(limitRequestBody)))
	assert.Equal(t, 2.0, testutil.ToFloat64(m.instances), "one idle in each Handler: those that failed were discarded")
	assert.Same(t, m.instances, other.metrics.instances)

	// Two requests at once on one instance: the second waits.
	one := newGuest(t, spinWAT, Config{Metrics: prometheus.NewRegistry(), Timeout: 300 * time.Millisecond, MaxInstances: 1})
	done := make(chan struct{})
	go func() {
		serve(one, httptest.NewRequest("POST", "/", nil))
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(one, httptest.NewRequest("GET", "/", nil)).Code)
	<-done
	assert.Equal(t, 1.0, testutil.ToFloat64(one.metrics.waits))
}

func TestGuestStderrIsAWarningAndAPanicOneError(t *testing.T) {
	var logs logbuf.Buffer
	const out = "careful\npanic: boom\n\ngoroutine 1 [running]:\nmain.handle()\n"
	wat := `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\08\00\00\00` + escapeLen(len(out)) + `\00\00\00` + watEscape(out) + `")
  (func (export "handle_request") (result i64)
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 1024)))
    unreachable))`
	h := newGuest(t, wat, Config{Logger: logs.Logger()})
	require.Equal(t, http.StatusInternalServerError, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	got := logs.String()
	assert.Contains(t, got, `level=WARN msg="guest stderr" line=careful`)
	assert.Contains(t, got, `level=ERROR msg="guest stderr" line="panic: boom\n\ngoroutine 1 [running]:\nmain.handle()" request_id=`)
	assert.Equal(t, 2, strings.Count(got, `msg="guest stderr"`), "the panic is one record:\n%s", got)
}

// escapeLen writes n as one byte in WAT's string escapes.
func escapeLen(n int) string { return watEscape(string([]byte{byte(n)})) }

// watEscape writes s as a WAT string's contents.
func watEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteString("\\" + strings.ToLower(string("0123456789ABCDEF"[c>>4])+string("0123456789ABCDEF"[c&15])))
		}
	}
	return b.String()
}
