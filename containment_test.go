package wasmcluster_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/procstat"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// These tests run a real worker process and hostile guests that use all
// the memory or all the stack they may, eight at once, and watch the
// worker's resident memory from outside, as the kernel counts it.

// workerRSS is the resident memory of process pid, in bytes.
func workerRSS(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := procstat.RSS(pid)
	require.NoError(t, err)
	return n
}

// holdServer is an outbound destination that keeps every request it gets
// until release: guests that call it stay in the middle of their request,
// with what they hold, for as long as the test needs.
type holdServer struct {
	url     string
	arrived chan struct{} // one value per request received
	release chan struct{}
	once    sync.Once
}

func newHoldServer(t *testing.T) *holdServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &holdServer{url: "http://" + ln.Addr().String() + "/hold", arrived: make(chan struct{}, 64), release: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.arrived <- struct{}{}
		<-hs.release
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		hs.releaseAll()
		_ = srv.Close()
	})
	return hs
}

func (hs *holdServer) releaseAll() { hs.once.Do(func() { close(hs.release) }) }

// await waits until n requests have arrived.
func (hs *holdServer) await(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-hs.arrived:
		case <-time.After(60 * time.Second):
			t.Fatalf("%d of %d guests reached the hold server within 60s", i, n)
		}
	}
}

// holdingGuest is a handler that, on POST, does what before says, waits
// at hold (an outbound GET to it), then does what after says. On any
// other method it answers "ok".
func holdingGuest(t *testing.T, hold, funcs, before, after string) string {
	t.Helper()
	wat := fmt.Sprintf(`(module
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "wasmcluster" "http_request" (func $http_request (param i32 i32 i32 i32) (result i64)))
  (import "wasmcluster" "http_send" (func $http_send (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "GET")
  (data (i32.const 8) "ok")
  (data (i32.const 16) %q)
  %s
  (func (export "handle_request") (result i64)
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then
        %s
        (drop (call $http_send
          (i32.wrap_i64 (call $http_request (i32.const 0) (i32.const 3) (i32.const 16) (i32.const %d)))
          (i32.const 0) (i32.const 0)))
        %s))
    (call $write_body (i32.const 1) (i32.const 8) (i32.const 2))
    (i64.const 0)))`, hold, funcs, before, len(hold), after)
	path := filepath.Join(t.TempDir(), "guest.wasm")
	require.NoError(t, os.WriteFile(path, testwasm.WAT(t, wat), 0o644))
	return path
}

// postAll sends n POSTs at once and returns their statuses (0 for a
// request that failed).
func postAll(s *server, n int) []int {
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := fresh.Post("http://"+s.addr+"/", "text/plain", nil)
			if err == nil {
				codes[i] = res.StatusCode
				_ = res.Body.Close()
			}
		}()
	}
	wg.Wait()
	return codes
}

const mib = 1 << 20

func TestEightMaxMemoryRequestsKeepTheWorkerWithinItsBound(t *testing.T) {
	// Eight instances grow their memory to the maximum and write all of
	// it, then wait at the hold server: the worker is measured while all
	// eight hold everything they may. Then each traps (500), its instance
	// is discarded and its memory must go back to the system.
	const instances, maxMemory = 8, 64 * mib
	hs := newHoldServer(t)
	guest := holdingGuest(t, hs.url, "", fmt.Sprintf(`
        (drop (memory.grow (i32.sub (i32.const %d) (memory.size))))
        (memory.fill (i32.const 4096) (i32.const 1) (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4096)))`,
		maxMemory/65536), "unreachable")
	s := serveModule(t, guest, "--workers", "1", "--instances", strconv.Itoa(instances),
		"--max-memory", strconv.Itoa(maxMemory), "--allow-outbound", "http://127.0.0.1:*", "--timeout", "2m")
	pid := s.workers(t)[0].PID
	base := workerRSS(t, pid)

	done := make(chan []int)
	go func() { done <- postAll(s, instances) }()
	hs.await(t, instances)
	during := workerRSS(t, pid)
	hs.releaseAll()
	for _, code := range <-done {
		assert.Equal(t, http.StatusInternalServerError, code)
	}
	after := workerRSS(t, pid)
	t.Logf("worker RSS: idle %d MiB, eight at max memory %d MiB (guest memory %d MiB), after %d MiB",
		base/mib, during/mib, instances*maxMemory/mib, after/mib)

	assert.Greater(t, during-base, int64(instances*maxMemory*3/4), "the guests really hold their memory")
	assert.LessOrEqual(t, during, int64(instances*maxMemory+workerOverhead), "instances × max-memory + the worker's own")
	assert.Less(t, after-base, int64(maxMemory), "the discarded instances' memory is back with the system")

	_, body, err := s.get("/")
	require.NoError(t, err)
	assert.Equal(t, "ok", body, "the worker serves on")
	assert.Equal(t, pid, s.workers(t)[0].PID, "the same worker")
}

// workerOverhead is the worker's own resident memory beyond its guests'
// linear memory, as the README's limits table states it: the Go runtime,
// the host, compiled code and request buffers.
const workerOverhead = 128 * mib

func TestEightStackOverflowsLeaveTheWorkerServing(t *testing.T) {
	// Eight requests wait at the hold server, then all recurse at once
	// with no end, each frame holding a few locals, until wazero's stack
	// ceiling traps them.
	const instances = 8
	hs := newHoldServer(t)
	guest := holdingGuest(t, hs.url, `
  (func $deep (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local.set $a (i64.add (local.get $n) (i64.const 1)))
    (local.set $b (i64.mul (local.get $a) (i64.const 3)))
    (local.set $c (i64.xor (local.get $b) (local.get $n)))
    (local.set $d (call $deep (local.get $c)))
    (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d))))`,
		"", "(drop (call $deep (i64.const 0)))")
	// Small bodies keep the worker's Go memory limit (README) close to
	// what the stacks need: 64 MiB + 8 × (128 MiB + 2 MiB).
	s := serveModule(t, guest, "--workers", "1", "--instances", strconv.Itoa(instances),
		"--max-body", "1MiB", "--max-response", "1MiB", "--allow-outbound", "http://127.0.0.1:*", "--timeout", "2m")
	pid := s.workers(t)[0].PID
	base := workerRSS(t, pid)

	done := make(chan []int)
	go func() { done <- postAll(s, instances) }()
	hs.await(t, instances)
	var peak int64
	sampled := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := workerRSS(t, pid); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	hs.releaseAll()
	codes := <-done
	close(stop)
	<-sampled
	for _, code := range codes {
		assert.Equal(t, http.StatusInternalServerError, code, "a stack overflow is the guest's fault: 500")
	}
	assert.Contains(t, s.log.String(), "stack overflow")
	_, body, err := s.get("/")
	require.NoError(t, err)
	assert.Equal(t, "ok", body, "the next request is served")
	assert.Equal(t, pid, s.workers(t)[0].PID, "by the same worker")
	assert.LessOrEqual(t, peak, int64(instances*stackBound+workerOverhead), "instances × the stack bound + the worker's own")

	// The stacks are garbage now; the host has the collector return them
	// within a second or so of the last discard.
	ended := time.Now()
	var after int64
	assert.Eventually(t, func() bool {
		after = workerRSS(t, pid)
		return after-base < 32*mib
	}, 30*time.Second, 20*time.Millisecond, "the stacks' memory goes back to the system")
	t.Logf("worker RSS: idle %d MiB, peak while overflowing %d MiB, after %d MiB (%s after the last overflow)",
		base/mib, peak/mib, after/mib, time.Since(ended).Round(10*time.Millisecond))
}

// stackBound is the most stack one running instance may take, as the
// README's limits table states it.
const stackBound = 128 * mib
