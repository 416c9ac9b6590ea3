package wasmcluster_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/testredis"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// These tests serve the kv test guest with 2 workers on each backend.

// kvBackends are the stores the tests run on: a SQLite file, and a real
// redis-server started for the test.
func kvBackends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "kv.db") },
		"redis":  func(t *testing.T) string { return testredis.Start(t).URL() },
	}
}

func serveKV(t *testing.T, url string, extra ...string) *server {
	t.Helper()
	return serveModule(t, testwasm.GoReactor(t, "guest-sdk/go/kv/internal/testkv"), append([]string{"--kv", "default=" + url}, extra...)...)
}

// do sends one request on a new connection, so that round-robin takes
// turns between the workers, and returns the status and body.
func (s *server) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	res, err := fresh.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestKVReadYourWritesAcrossWorkers(t *testing.T) {
	for name, url := range kvBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := serveKV(t, url(t))
			for i := range 20 { // consecutive connections go to alternate workers
				v := fmt.Sprint("value-", i)
				code, _ := s.do(t, "PUT", "/k/user", v)
				require.Equal(t, 200, code)
				code, got := s.do(t, "GET", "/k/user", "")
				require.Equal(t, 200, code)
				require.Equal(t, v, got, "read %d", i)
			}
			code, _ := s.do(t, "DELETE", "/k/user", "")
			assert.Equal(t, 200, code)
			code, _ = s.do(t, "GET", "/k/user", "")
			assert.Equal(t, 404, code, "deleted through one worker, gone through the other")
			code, body := s.do(t, "GET", "/k/x?store=other", "")
			assert.Equal(t, 503, code)
			assert.Contains(t, body, `no key-value store named "other"`, "a store not given is refused")
		})
	}
}

// TestKVNoLostUpdates sends 10,000 increments from 64 connections to the
// two workers: the counter must end at exactly 10,000, with increment and
// with a compare-and-swap loop, and every request must have answered a
// value of its own (so that a request that answered 200 without counting
// is told apart from an update the store lost).
func TestKVNoLostUpdates(t *testing.T) {
	const requests, conns = 10000, 64
	for name, url := range kvBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := serveKV(t, url(t), "--instances", "4")
			series := map[string]string{"inc": "default increment ok", "cas": "default cas ok"}
			for _, op := range []string{"inc", "cas"} {
				var next, failed atomic.Int64
				var mu sync.Mutex
				answered := map[string]int{}
				var wg sync.WaitGroup
				for range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 60 * time.Second}
						defer c.CloseIdleConnections()
						for next.Add(1) <= requests {
							res, err := c.Post("http://"+s.addr+"/"+op+"/hits", "", nil)
							if err != nil {
								failed.Add(1)
								continue
							}
							body, _ := io.ReadAll(res.Body)
							res.Body.Close()
							if res.StatusCode != 200 {
								failed.Add(1)
							}
							mu.Lock()
							answered[string(body)]++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				require.Zero(t, failed.Load(), "%s: failed requests", op)
				for body, n := range answered {
					if v, err := strconv.Atoi(body); err != nil || v < 1 || v > requests || n != 1 {
						t.Errorf("%s: %d requests answered %q", op, n, body)
					}
				}
				_, got := s.do(t, "GET", "/k/hits", "")
				assert.Equal(t, fmt.Sprint(requests), got, "%s: counter after %d requests", op, requests)
				// The store's successful calls, as the workers counted them:
				// fewer than requests means a request did not reach the
				// store; as many, with a short counter, that the store lost
				// an update.
				var calls float64
				assert.Eventually(t, func() bool {
					ops, _ := kvOpsCounted(scrape(t, s))
					calls = ops[series[op]]
					return calls == requests
				}, 10*time.Second, 50*time.Millisecond, "%s: successful calls the workers counted", op)
				t.Logf("%s: the workers counted %.0f successful calls", op, calls)
				s.do(t, "DELETE", "/k/hits", "")
			}
		})
	}
}

func TestKVTimeToLive(t *testing.T) {
	for name, url := range kvBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := serveKV(t, url(t))
			code, _ := s.do(t, "PUT", "/k/session?ttl=2000", "token")
			require.Equal(t, 200, code)
			code, _ = s.do(t, "HEAD", "/k/session", "")
			assert.Equal(t, 200, code, "before its time-to-live")
			assert.Eventually(t, func() bool {
				code, _ := s.do(t, "GET", "/k/session", "")
				return code == 404
			}, 10*time.Second, 50*time.Millisecond, "gone after its time-to-live")
		})
	}
}

// TestKVEmbeddedStoreOutlivesReloadKillAndRestart: what the embedded
// store holds survives a SIGHUP reload, a worker's SIGKILL and a restart
// of the whole server.
func TestKVEmbeddedStoreOutlivesReloadKillAndRestart(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "kv.db")
	s := serveKV(t, url)
	s.do(t, "PUT", "/k/kept", "before")
	reads := func(when string) {
		t.Helper()
		for range 4 {
			code, got := s.do(t, "GET", "/k/kept", "")
			require.Equal(t, 200, code, when)
			require.Equal(t, "before", got, when)
		}
	}

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(s.log.String(), "reloaded: new workers serve")
	}, 20*time.Second, 10*time.Millisecond)
	reads("after a reload")

	s.killWorker(t, 20*time.Second)
	reads("after a worker's SIGKILL")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-s.exit)
	s.exit <- nil
	s = serveKV(t, url)
	reads("after a restart")
}

// TestKVRedisDownFailsCallsNotWorkers stops Redis mid-run: the guest's
// calls fail with an error it answers, the workers live, and the calls
// work again once Redis is back.
func TestKVRedisDownFailsCallsNotWorkers(t *testing.T) {
	redis := testredis.Start(t)
	s := serveKV(t, redis.URL(), "--timeout", "5s")
	code, _ := s.do(t, "POST", "/inc/n", "")
	require.Equal(t, 200, code)
	before := s.workers(t)

	redis.Stop()
	for range 4 {
		start := time.Now()
		code, body := s.do(t, "POST", "/inc/n", "")
		assert.Equal(t, 503, code, "the guest answers the store's error: %s", body)
		assert.Contains(t, body, "kv_increment")
		assert.Less(t, time.Since(start), 5*time.Second, "within the request's deadline")
	}
	assert.Contains(t, s.log.String(), `msg="key-value store failed"`)
	for i, w := range s.workers(t) {
		assert.Equal(t, before[i].PID, w.PID, "worker %d lives", w.ID)
	}

	redis.Restart()
	assert.Eventually(t, func() bool {
		code, _ := s.do(t, "POST", "/inc/n", "")
		return code == 200
	}, 20*time.Second, 100*time.Millisecond, "calls work again once Redis is back")
}

// TestKVItemsExampleAcrossWorkers: the C JSON store of examples/items
// answers, through either worker, what was stored through the other.
func TestKVItemsExampleAcrossWorkers(t *testing.T) {
	wasm := testwasm.C(t, true, "examples/items/c/items.c", "guest-sdk/c/wasmcluster.c")
	s := serveModule(t, wasm, "--kv", "default=sqlite:"+filepath.Join(t.TempDir(), "kv.db"))
	code, _ := s.do(t, "PUT", "/items/1", `{"name":"Ada"}`)
	require.Equal(t, 200, code)
	code, _ = s.do(t, "PUT", "/items/2", `{"name":"Grace"}`)
	require.Equal(t, 200, code)
	for range 4 { // consecutive connections go to alternate workers
		code, body := s.do(t, "GET", "/items/2", "")
		assert.Equal(t, "200 {\"name\":\"Grace\"}", fmt.Sprint(code, " ", body))
		code, body = s.do(t, "GET", "/items", "")
		assert.Equal(t, "200 [\"1\",\"2\"]\n", fmt.Sprint(code, " ", body))
	}
	code, _ = s.do(t, "PUT", "/items/3", "not json")
	assert.Equal(t, 400, code)
	code, _ = s.do(t, "DELETE", "/items/1", "")
	assert.Equal(t, 204, code)
	code, _ = s.do(t, "GET", "/items/1", "")
	assert.Equal(t, 404, code)
	code, _ = s.do(t, "DELETE", "/items/1", "")
	assert.Equal(t, 404, code)
}

// kvOpsCounted sums wasmcluster_kv_operations_total over the workers by
// "store op outcome", and the latency histogram's count by "store op".
func kvOpsCounted(families map[string]*dto.MetricFamily) (ops, timed map[string]float64) {
	ops, timed = map[string]float64{}, map[string]float64{}
	labels := func(m *dto.Metric, names ...string) string {
		var vals []string
		for _, name := range names {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == name {
					vals = append(vals, lp.GetValue())
				}
			}
		}
		return strings.Join(vals, " ")
	}
	for _, m := range families["wasmcluster_kv_operations_total"].GetMetric() {
		if v := m.GetCounter().GetValue(); v > 0 {
			ops[labels(m, "store", "op", "outcome")] += v
		}
	}
	for _, m := range families["wasmcluster_kv_operation_duration_seconds"].GetMetric() {
		if n := m.GetHistogram().GetSampleCount(); n > 0 {
			timed[labels(m, "store", "op")] += float64(n)
		}
	}
	return ops, timed
}

// TestKVMetricsCountEveryCallByStoreOpAndOutcome makes a known number of
// key-value calls through both workers and reads them back from the
// primary's /metrics.
func TestKVMetricsCountEveryCallByStoreOpAndOutcome(t *testing.T) {
	s := serveKV(t, "sqlite:"+filepath.Join(t.TempDir(), "kv.db"), "--kv-max-key", "64")
	calls := []struct {
		method, path, body string
		code               int
	}{
		{"PUT", "/k/a", "one", 200}, {"PUT", "/k/b", "2", 200}, {"PUT", "/k/c", "3", 200}, // set ok 3
		{"GET", "/k/a", "", 200}, {"GET", "/k/b", "", 200}, // get ok 2
		{"GET", "/k/none", "", 404},                              // get not_found 1
		{"HEAD", "/k/a", "", 200},                                // exists ok 1
		{"DELETE", "/k/c", "", 200}, {"DELETE", "/k/c", "", 404}, // delete ok 1, not_found 1
		{"GET", "/list?prefix=", "", 200},                                                     // list ok 1
		{"POST", "/inc/n", "", 200}, {"POST", "/inc/n", "", 200}, {"POST", "/inc/n", "", 200}, // increment ok 3
		{"POST", "/inc/a", "", 503},                        // increment failed 1 (not an integer)
		{"PUT", "/swap/a?old=one", "9", 200},               // cas ok 1
		{"PUT", "/swap/a?old=one", "8", 409},               // cas conflict 1
		{"PUT", "/swap/new", "x", 200},                     // cas ok 1 (created)
		{"PUT", "/k/" + strings.Repeat("k", 65), "v", 503}, // set failed 1: over --kv-max-key, never reaches the store
		{"GET", "/k/a?store=other", "", 503},               // a store not given
	}
	for _, c := range calls {
		code, body := s.do(t, c.method, c.path, c.body)
		require.Equal(t, c.code, code, "%s %s: %s", c.method, c.path, body)
	}
	want := map[string]float64{
		"default set ok": 3, "default set failed": 1,
		"default get ok": 2, "default get not_found": 1,
		"default exists ok": 1,
		"default delete ok": 1, "default delete not_found": 1,
		"default list ok":      1,
		"default increment ok": 3, "default increment failed": 1,
		"default cas ok": 2, "default cas conflict": 1,
		"(unregistered) get failed": 1,
	}
	wantTimed := map[string]float64{ // every call that reached the store
		"default set": 3, "default get": 3, "default exists": 1, "default delete": 2,
		"default list": 1, "default increment": 4, "default cas": 3,
	}
	var ops, timed map[string]float64
	require.Eventually(t, func() bool {
		ops, timed = kvOpsCounted(scrape(t, s))
		return assert.ObjectsAreEqual(want, ops) && assert.ObjectsAreEqual(wantTimed, timed)
	}, 10*time.Second, 50*time.Millisecond, "the workers report what they counted")
	assert.Equal(t, want, ops)
	assert.Equal(t, wantTimed, timed)
}
