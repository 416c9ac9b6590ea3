package wasmcluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// requestIDWAT answers with the X-Request-Id header it sees, and logs a
// line as the guest.
const requestIDWAT = `(module
  (import "http_handler" "get_header_values" (func $get_header_values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-Request-Id")
  (data (i32.const 16) "guest line")
  (func (export "handle_request") (result i64)
    (local $len i32)
    (call $log (i32.const 1) (i32.const 16) (i32.const 10))
    (local.set $len (i32.wrap_i64 (call $get_header_values (i32.const 0) (i32.const 0) (i32.const 12) (i32.const 64) (i32.const 256))))
    (if (i32.gt_u (local.get $len) (i32.const 0))
      (then (call $write_body (i32.const 1) (i32.const 64) (i32.sub (local.get $len) (i32.const 1)))))
    (i64.const 0)))`

func requestIDModule(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "request-id.wasm")
	require.NoError(t, os.WriteFile(path, testwasm.WAT(t, requestIDWAT), 0o644))
	return path
}

// records parses the JSON log: every line must be one JSON object.
func records(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "a log line that is not JSON: %q", line)
		out = append(out, rec)
	}
	return out
}

func TestRequestIDsAndTheAccessLogInJSON(t *testing.T) {
	s := serveModule(t, requestIDModule(t), "--log-format", "json")

	req, _ := http.NewRequest("GET", "http://"+s.addr+"/given?q=1", nil)
	req.Header.Set("X-Request-Id", "from-the-client")
	res, err := fresh.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "from-the-client", res.Header.Get("X-Request-Id"), "returned")
	assert.Equal(t, "from-the-client", string(body), "seen by the guest")

	ids := map[string]bool{}
	for range 20 {
		res, body, err := s.get("/generated")
		require.NoError(t, err)
		id := res.Header.Get("X-Request-Id")
		assert.Equal(t, id, body, "the guest sees the id the client gets")
		assert.False(t, ids[id], "id %q is unique", id)
		ids[id] = true
	}
	var access, guest []map[string]any
	require.Eventually(t, func() bool {
		access, guest = nil, nil
		for _, rec := range records(t, s.log.String()) {
			switch rec["msg"] {
			case "request":
				access = append(access, rec)
			case "guest line":
				guest = append(guest, rec)
			}
		}
		return len(access) == 21 && len(guest) == 21
	}, 10*time.Second, 20*time.Millisecond, "an access line and a guest line per request")

	first := access[0]
	assert.Equal(t, "GET", first["method"])
	assert.Equal(t, "/given", first["path"])
	assert.Equal(t, 200.0, first["status"])
	assert.Equal(t, float64(len("from-the-client")), first["bytes"])
	assert.Equal(t, "from-the-client", first["request_id"])
	assert.Contains(t, first, "duration")
	assert.Equal(t, "WARN", guest[0]["level"])
	workers := map[float64]bool{}
	for i, rec := range access {
		workers[rec["worker"].(float64)] = true
		assert.Equal(t, rec["request_id"], guest[i]["request_id"], "the guest's line carries the request's id")
		if i > 0 {
			assert.True(t, ids[rec["request_id"].(string)])
		}
	}
	assert.Equal(t, map[float64]bool{1: true, 2: true}, workers, "both workers served, their ids unique all the same")
}

func TestAccessLogCanBeTurnedOff(t *testing.T) {
	s := serveModule(t, requestIDModule(t), "--access-log=false")
	for range 4 {
		_, _, err := s.get("/quiet")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return strings.Count(s.log.String(), `msg="guest line"`) == 4 }, 10*time.Second, 20*time.Millisecond)
	assert.NotContains(t, s.log.String(), `msg=request `)
}

// scrape parses the admin /metrics with the Prometheus text parser.
func scrape(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get("http://" + s.admin + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return families
}

// requestsCounted sums the request duration histogram's count over every
// worker and status class; byWorker says which workers counted.
func requestsCounted(families map[string]*dto.MetricFamily) (total uint64, byWorker map[string]uint64) {
	byWorker = map[string]uint64{}
	for _, m := range families["wasmcluster_http_request_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "worker" {
				byWorker[lp.GetValue()] += m.GetHistogram().GetSampleCount()
			}
		}
		total += m.GetHistogram().GetSampleCount()
	}
	return total, byWorker
}

func TestMetricsCountEveryRequestAcrossWorkersAndRestarts(t *testing.T) {
	s := serve(t)
	time.Sleep(1100 * time.Millisecond) // past crash-loop backoff: the standby takes over
	const n = 30
	for range n {
		_, _, err := s.get("/counted")
		require.NoError(t, err)
	}
	var byWorker map[string]uint64
	require.Eventually(t, func() bool {
		var total uint64
		total, byWorker = requestsCounted(scrape(t, s))
		return total == n
	}, 10*time.Second, 50*time.Millisecond, "the histogram counts every request")
	assert.Equal(t, map[string]uint64{"1": n / 2, "2": n / 2}, byWorker, "summed over both workers")

	families := scrape(t, s)
	for _, name := range []string{"wasmcluster_guest_traps_total", "wasmcluster_guest_timeouts_total", "wasmcluster_instances_live",
		"wasmcluster_pool_waits_total", "wasmcluster_worker_restarts_total", "wasmcluster_reloads_total",
		"wasmcluster_worker_up", "wasmcluster_standby_up", "process_cpu_seconds_total", "go_goroutines"} {
		assert.Contains(t, families, name)
	}
	for _, m := range families["wasmcluster_instances_live"].GetMetric() {
		assert.Len(t, m.GetLabel(), 1, "labelled by worker slot alone, not pid")
	}

	s.killWorker(t, 10*time.Second)
	total, _ := requestsCounted(scrape(t, s))
	assert.Equal(t, uint64(n), total, "the count survives the restart")
	for range n {
		_, _, err := s.get("/counted")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		total, byWorker = requestsCounted(scrape(t, s))
		return total == 2*n
	}, 10*time.Second, 50*time.Millisecond, "and goes on from there: %v", byWorker)
	assert.Equal(t, map[string]uint64{"1": n, "2": n}, byWorker)
	restarts := scrape(t, s)["wasmcluster_worker_restarts_total"].GetMetric()
	assert.Equal(t, 1.0, restarts[0].GetCounter().GetValue())

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "reloaded: new workers serve") }, 20*time.Second, 10*time.Millisecond)
	total, _ = requestsCounted(scrape(t, s))
	assert.Equal(t, uint64(2*n), total, "the count survives a reload")
	for _, m := range scrape(t, s)["wasmcluster_reloads_total"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "ok" {
			assert.Equal(t, 1.0, m.GetCounter().GetValue())
		}
	}
}

func TestReadyzIs503WhileDraining(t *testing.T) {
	s := serve(t)
	status := func(path string) int {
		res, err := http.Get("http://" + s.admin + path)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, status("/readyz"))
	// A POST whose body trickles in keeps the drain going for a second.
	pr, pw := io.Pipe()
	go func() {
		for range 10 {
			io.WriteString(pw, "x")
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	done := make(chan error, 1)
	go func() {
		res, err := fresh.Post("http://"+s.addr+"/", "text/plain", pr)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	assert.Eventually(t, func() bool { return status("/readyz") == http.StatusServiceUnavailable }, 500*time.Millisecond, 5*time.Millisecond)
	assert.Equal(t, http.StatusOK, status("/healthz"), "still live")
	require.NoError(t, <-done)
}

// startCLI starts the CLI with args, its temporary files in tmp, and
// returns it with its log.
func startCLI(t *testing.T, tmp string, args ...string) (*exec.Cmd, *logbuf.Buffer, chan error) {
	t.Helper()
	cmd := exec.Command(buildCLI(t), args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	log := &logbuf.Buffer{}
	cmd.Stderr = log
	require.NoError(t, cmd.Start())
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, log, exit
}

func TestABusyPortFailsAtOnce(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	module := testwasm.GoReactor(t, "examples/hello-wasm/go") // cold: seconds to compile
	buildCLI(t)                                               // built before the clock starts
	for _, flag := range []string{"--listen", "--admin"} {
		t.Run(flag, func(t *testing.T) {
			args := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--cache-dir", t.TempDir(), module}
			if flag == "--listen" {
				args[2] = busy.Addr().String()
			} else {
				args[4] = busy.Addr().String()
			}
			start := time.Now()
			_, log, exit := startCLI(t, t.TempDir(), args...)
			select {
			case err := <-exit:
				took := time.Since(start)
				assert.Error(t, err)
				assert.Less(t, took, time.Second, "failed after %v", took)
				assert.Contains(t, log.String(), "address already in use")
			case <-time.After(5 * time.Second):
				t.Fatal("still running with a busy port")
			}
		})
	}
}

func TestSignalsWhileStarting(t *testing.T) {
	module := testwasm.GoReactor(t, "examples/hello-wasm/go")
	t.Run("TERM exits 0 and leaves nothing", func(t *testing.T) {
		tmp := t.TempDir()
		cmd, log, exit := startCLI(t, tmp, "serve", "--listen", "127.0.0.1:0", "--no-cache", module)
		time.Sleep(300 * time.Millisecond) // compiling: a Go module takes seconds without a cache
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-exit:
			require.NoError(t, err, "exit status 0")
		case <-time.After(5 * time.Second):
			t.Fatal("still running after SIGTERM")
		}
		assert.Contains(t, log.String(), "stopped while starting")
		entries, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Empty(t, entries, "the temporary directory is removed")
	})
	t.Run("HUP is applied once serving", func(t *testing.T) {
		cmd, log, exit := startCLI(t, t.TempDir(), "serve", "--workers", "1", "--listen", "127.0.0.1:0", "--no-cache", module)
		time.Sleep(300 * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(log.String(), "reloaded: new workers serve") {
			select {
			case err := <-exit:
				t.Fatalf("exited: %v\n%s", err, log)
			default:
			}
			require.True(t, time.Now().Before(deadline), "no reload:\n%s", log)
			time.Sleep(20 * time.Millisecond)
		}
		assert.Contains(t, log.String(), "reload asked for while starting")
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, <-exit)
	})
}

func TestPIDFileReloadStopStatus(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "wc.pid")
	s := serve(t, "--pid-file", pidFile)
	cli := buildCLI(t)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(cli, args...).CombinedOutput()
		return string(out), err
	}
	out, err := run("status", "--pid-file", pidFile)
	require.NoError(t, err, out)
	assert.Equal(t, fmt.Sprintf("running, pid %d\n", s.cmd.Process.Pid), out)
	out, err = run("status", "--admin", s.admin)
	require.NoError(t, err, out)
	assert.Contains(t, out, "ready: true\nworker  1")
	assert.Contains(t, out, "standby 0")

	out, err = run("reload", "--pid-file", pidFile)
	require.NoError(t, err, out)
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "reloaded: new workers serve") }, 20*time.Second, 10*time.Millisecond)

	out, err = run("stop", "--pid-file", pidFile)
	require.NoError(t, err, out)
	assert.Equal(t, fmt.Sprintf("stopped pid %d\n", s.cmd.Process.Pid), out)
	assert.NoFileExists(t, pidFile, "removed at exit")
	out, err = run("status", "--pid-file", pidFile)
	assert.Error(t, err)
	assert.Contains(t, out, "no such file")
}

func TestCompileWarmsTheCache(t *testing.T) {
	module := testwasm.GoReactor(t, "examples/hello-wasm/go")
	cache := t.TempDir()
	out, err := exec.Command(buildCLI(t), "compile", "--cache-dir", cache, module).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "compiled "+module+" into "+cache)
	var files int
	require.NoError(t, filepath.Walk(cache, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files++
		}
		return err
	}))
	assert.NotZero(t, files, "the compiled code is in the cache")
}
