package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchdogNeverActsOnAFinishedRequest serves requests one after
// another on one instance, each request's context ending as it returns (as
// net/http's do), while the watchdog looks as often as it can. The
// watchdog must never interrupt the instance for a request that has
// finished: the next request would then find it interrupted, and be
// answered 200 with no body, its guest never run.
func TestWatchdogNeverActsOnAFinishedRequest(t *testing.T) {
	h := newGuest(t, okWAT, Config{MaxInstances: 1, Timeout: time.Minute})
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			h.pool.watchOnce(time.Now())
		}
	}()
	defer func() {
		stop.Store(true)
		<-done
	}()
	for i := range 20000 {
		ctx, cancel := context.WithCancel(context.Background())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		cancel()
		if w.Code != http.StatusOK || w.Body.String() != "ok" {
			t.Fatalf("request %d: %d %q", i, w.Code, w.Body)
		}
	}
}

// okWAT answers "ok".
var okWAT = guestWAT(`
  (func (export "handle_request") (result i64)
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))`, "0 ok")
