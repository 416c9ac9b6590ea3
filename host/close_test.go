package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
)

func TestCloseAnswersRunningRequests503(t *testing.T) {
	var logs logbuf.Buffer
	h := newGuest(t, spinWAT, Config{Timeout: time.Minute, MaxInstances: 1, Logger: logs.Logger()})
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, httptest.NewRequest("POST", "/", nil)) }()
	require.Eventually(t, func() bool { return len(h.pool.slots.sem) == 1 }, 5*time.Second, time.Millisecond, "the guest runs")
	require.NoError(t, h.Close(context.Background()))
	select {
	case rec := <-done:
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the running guest")
	}
	assert.Contains(t, logs.String(), "handler closed while the guest ran")
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, httptest.NewRequest("GET", "/", nil)).Code, "after Close")
}

func TestRequestsAfterCloseAnswer503(t *testing.T) {
	// Close unmaps the instances' memory; an idle instance left in the
	// pool must never serve again.
	h := newGuest(t, helloWAT, Config{MaxInstances: 2})
	require.Equal(t, http.StatusOK, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
	require.NoError(t, h.Close(context.Background()))
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, served := range []http.Handler{h, h.Wrap(next)} {
		rec := serve(served, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
}

func TestCloseWaitsForAGuestInHostCalls(t *testing.T) {
	// The guest spends its time in a host function that writes into its
	// memory: Close interrupts it and unmaps nothing until it has stopped.
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64)
    (loop $forever
      (drop (call $get_header_names (i32.const 0) (i32.const 0) (i32.const 65536)))
      (br $forever))
    (i64.const 0))`), Config{Timeout: time.Minute, MaxInstances: 1})
	done := make(chan int)
	go func() {
		r := httptest.NewRequest("GET", "/", nil)
		for i := range 200 {
			r.Header.Set("X-Header-"+strings.Repeat("n", i%20)+string(rune('a'+i%26)), "v")
		}
		done <- serve(h, r).Code
	}()
	require.Eventually(t, func() bool { return len(h.pool.slots.sem) == 1 }, 5*time.Second, time.Millisecond, "the guest runs")
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, h.Close(context.Background()))
	select {
	case code := <-done:
		assert.Equal(t, http.StatusServiceUnavailable, code)
	default:
		t.Fatal("Close returned while the guest still ran")
	}
}

func TestCloseWhileNextRunsReleasesWhenItEnds(t *testing.T) {
	h := newGuest(t, guestWAT(`
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32))`), Config{MaxInstances: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	served := h.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		w.WriteHeader(http.StatusTeapot)
	}))
	done := make(chan int)
	go func() { done <- serve(served, httptest.NewRequest("GET", "/", nil)).Code }()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.Close(ctx)
	require.Error(t, err)
	assert.Equal(t, "close: guests still running, released when they end: context deadline exceeded", err.Error())
	assert.Equal(t, http.StatusServiceUnavailable, serve(served, httptest.NewRequest("GET", "/", nil)).Code, "refused while closing")

	close(release)
	assert.Equal(t, http.StatusTeapot, <-done, "the request that held the instance ends as next answered")
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.NoError(t, h.Close(ctx), "once it ended nothing is running")
}

func TestCGICloseAnswersTheRunningRequest503(t *testing.T) {
	var logs logbuf.Buffer
	h := cgiGuest(t, Config{Timeout: time.Minute, Logger: logs.Logger()})
	done := make(chan int)
	go func() { done <- serve(h, httptest.NewRequest("GET", "/spin", nil)).Code }()
	require.Eventually(t, func() bool { return len(h.cgiSlots.sem) == 1 }, 5*time.Second, time.Millisecond, "the guest runs")
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, h.Close(context.Background()))
	select {
	case code := <-done:
		assert.Equal(t, http.StatusServiceUnavailable, code)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the running guest")
	}
	assert.Contains(t, logs.String(), "handler closed while the guest ran")
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, httptest.NewRequest("GET", "/", nil)).Code, "after Close")
}
