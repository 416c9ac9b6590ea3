package dispatcher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/loadgen"
	"github.com/wasmcluster/wasmcluster/internal/logbuf"
)

// The test binary is also the workers' program: started by a Primary, it
// serves workerHandler in the mode DISPATCHER_TEST_MODE names.
func TestMain(m *testing.M) {
	if IsWorker() {
		os.Exit(runTestWorker(os.Getenv("DISPATCHER_TEST_MODE")))
	}
	switch os.Getenv("DISPATCHER_TEST_MODE") {
	case "systemd":
		os.Exit(runSystemdChild())
	case "dialer":
		os.Exit(runDialer())
	}
	os.Exit(m.Run())
}

// workerHandler answers with the worker's pid; /slow?ms=N first sleeps;
// /procs answers GOMAXPROCS; /env?name=X answers $X; /echo the request
// body.
var workerHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/procs":
		fmt.Fprintf(w, "%d", runtime.GOMAXPROCS(0))
		return
	case "/env":
		io.WriteString(w, os.Getenv(r.URL.Query().Get("name")))
		return
	case "/echo":
		_, _ = io.Copy(w, r.Body)
		return
	}
	if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	fmt.Fprintf(w, "%d", os.Getpid())
})

func runTestWorker(mode string) int {
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "this worker cannot start")
		return 3
	case "die":
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(4)
		}()
	case "stall-2":
		if WorkerID() == 2 {
			// Say ready, then never take a connection off the socket.
			ctrl, err := controlSocket()
			if err != nil {
				return 1
			}
			_, _ = ctrl.Write(encode(msgReady, 0))
			select {}
		}
	}
	h, opts := http.Handler(workerHandler), WorkerOptions{}
	switch mode {
	case "report":
		opts.Report = func() []byte { return []byte("slot=" + strconv.Itoa(WorkerID())) }
	case "instances":
		h = instanceHandler()
	case "instances-unbuffered":
		h = instanceHandler()
		opts.MaxBufferedBody, opts.MaxBufferedResponse = -1, -1
	case "lowfd":
		// Room for what the worker holds now and a few connections.
		lim := syscall.Rlimit{Cur: uint64(openFDs() + 8), Max: uint64(openFDs() + 8)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 1
		}
	}
	if path := os.Getenv("DISPATCHER_TEST_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return 1
		}
		opts.Logger = slog.New(slog.NewTextHandler(f, nil))
	}
	if err := ServeWorker(context.Background(), h, opts); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// runSystemdChild plays a service started by systemd socket activation:
// the socket is fd 3 and LISTEN_FDS says so.
func runSystemdChild() int {
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	ln, err := Listen("systemd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "activated")
	})}
	_ = srv.Serve(ln)
	return 0
}

// cluster is a Primary serving on 127.0.0.1 for one test.
type cluster struct {
	p      *Primary
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *logbuf.Buffer
}

// testCommand starts the test binary as a worker in mode; mode may change
// between starts.
func testCommand(mode *atomic.Value) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "DISPATCHER_TEST_MODE="+mode.Load().(string))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
}

func startCluster(t *testing.T, opts Options, mode *atomic.Value) *cluster {
	t.Helper()
	if mode == nil {
		mode = &atomic.Value{}
		mode.Store("")
	}
	logs := &logbuf.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	opts.Command = testCommand(mode)
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{p: NewPrimary(opts), addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { c.done <- c.p.Serve(ctx, ln) }()
	require.Eventually(t, func() bool {
		ws := c.p.Workers()
		for _, w := range ws {
			if !w.Ready {
				return false
			}
		}
		return len(ws) == opts.Workers+1 && ws[opts.Workers].Role == RoleStandby
	}, 20*time.Second, 10*time.Millisecond, "workers and the standby ready")
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("primary log:\n%s", logs)
		}
	})
	return c
}

func (c *cluster) stop(t *testing.T) {
	c.cancel()
	select {
	case err := <-c.done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the primary did not drain")
	}
	c.done <- nil // later stops return at once
}

// get makes one request on a new connection and returns the body.
func (c *cluster) get(path string) (string, error) { return c.getWithin(path, 10*time.Second) }

func (c *cluster) pids() map[int]bool {
	pids := map[int]bool{}
	for _, w := range c.p.Workers() {
		pids[w.PID] = true
	}
	return pids
}

func TestRoundRobinHandsConnectionsToEveryWorker(t *testing.T) {
	c := startCluster(t, Options{Workers: 2}, nil)
	served := map[string]int{}
	for range 20 {
		body, err := c.get("/")
		require.NoError(t, err)
		served[body]++
	}
	require.Len(t, served, 2, "both workers served")
	for pid, n := range served {
		assert.Equal(t, 10, n, "worker %s", pid)
	}
	ws := c.p.Workers()
	assert.Equal(t, uint64(10), ws[0].Handed)
	assert.Equal(t, uint64(10), ws[1].Handed)
	require.Eventually(t, func() bool {
		ws := c.p.Workers()
		return ws[0].Requests+ws[1].Requests == 20 && ws[0].Active+ws[1].Active == 0
	}, 5*time.Second, 10*time.Millisecond, "requests reported, connections closed")
}

func TestWorkersRunOneThreadUnlessTold(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "1"},
		{[]string{"GOMAXPROCS=2"}, "2"},
	} {
		c := startCluster(t, Options{Workers: 1, Env: tc.env}, nil)
		got, err := c.get("/procs")
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "GOMAXPROCS of a worker with env %q", tc.env)
	}
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	return len(entries)
}

func TestTenThousandHandOffsLeakNoFD(t *testing.T) {
	c := startCluster(t, Options{Workers: 2}, nil)
	_, err := c.get("/") // warm up lazily opened fds
	require.NoError(t, err)
	_, err = c.get("/")
	require.NoError(t, err)
	primaryBefore := countFDs(t, os.Getpid())
	workerBefore := map[int]int{}
	for pid := range c.pids() {
		workerBefore[pid] = countFDs(t, pid)
	}

	const n, parallel = 10000, 8
	var failed atomic.Int64
	var wg sync.WaitGroup
	for g := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += parallel {
				if _, err := c.get("/"); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())

	var handed uint64
	for _, w := range c.p.Workers() {
		handed += w.Handed
	}
	assert.Equal(t, uint64(n+2), handed)
	// A few fds come and go on their own (the runtime's, process
	// handles); a leak would be thousands.
	const slack = 3
	assert.Eventually(t, func() bool { return countFDs(t, os.Getpid()) <= primaryBefore+slack }, 5*time.Second, 10*time.Millisecond,
		"primary fds back to %d", primaryBefore)
	for pid, before := range workerBefore {
		assert.Eventually(t, func() bool { return countFDs(t, pid) <= before+slack }, 5*time.Second, 10*time.Millisecond,
			"worker %d fds back to %d", pid, before)
	}
}

func TestLeastConnectionsAvoidsTheBusyWorker(t *testing.T) {
	c := startCluster(t, Options{Workers: 2, Balancer: LeastConnections()}, nil)
	// Hold one connection open on one worker: a client slow to send its
	// request.
	long, err := net.Dial("tcp", c.addr)
	require.NoError(t, err)
	defer long.Close()
	_, err = long.Write([]byte("GET / HTTP/1.1\r\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ws := c.p.Workers()
		return ws[0].Active+ws[1].Active == 1
	}, 5*time.Second, time.Millisecond)
	busy := 0
	if c.p.Workers()[1].Active == 1 {
		busy = 1
	}

	for range 10 {
		_, err := c.get("/")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			ws := c.p.Workers()
			return ws[0].Active+ws[1].Active == 1
		}, 5*time.Second, time.Millisecond, "the worker reported the close")
	}
	ws := c.p.Workers()
	assert.Equal(t, uint64(1), ws[busy].Handed, "only the long connection")
	assert.Equal(t, uint64(10), ws[1-busy].Handed, "every short connection went to the idle worker")
}

func TestOnlyBalancersThatReadCountsGetThemLive(t *testing.T) {
	for _, tc := range []struct {
		balancer Balancer
		want     string
	}{
		{RoundRobin(), ""},
		{LeastConnections(), "1"},
	} {
		c := startCluster(t, Options{Workers: 1, Balancer: tc.balancer}, nil)
		got, err := c.get("/env?name=" + envLiveCounts)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%T", tc.balancer)
	}
}

func TestBalancers(t *testing.T) {
	rr := RoundRobin()
	var picks []int
	for range 5 {
		picks = append(picks, rr.Pick([]int64{9, 0, 0}))
	}
	assert.Equal(t, []int{0, 1, 2, 0, 1}, picks)

	lc := LeastConnections()
	assert.Equal(t, 2, lc.Pick([]int64{3, 2, 1}))
	first, second := lc.Pick([]int64{1, 1}), lc.Pick([]int64{1, 1})
	assert.NotEqual(t, first, second, "ties rotate")

	_, err := ParseBalancer("random")
	assert.EqualError(t, err, `unknown balancing policy "random" (want round-robin or least-conn)`)
}

func TestDeadWorkerIsReplacedAndLosesNoQueuedConnection(t *testing.T) {
	mode := &atomic.Value{}
	mode.Store("stall-2")
	c := startCluster(t, Options{Workers: 2}, mode)
	stalled := c.p.Workers()[1]

	// Half of these go to the stalled worker and wait in its socket.
	const n = 6
	results := make(chan error, n)
	for range n {
		go func() {
			_, err := c.get("/")
			results <- err
		}()
	}
	require.Eventually(t, func() bool { return c.p.Workers()[1].Handed == n/2 }, 5*time.Second, time.Millisecond)

	mode.Store("")
	require.NoError(t, syscall.Kill(stalled.PID, syscall.SIGKILL))
	for range n {
		select {
		case err := <-results:
			assert.NoError(t, err, "the connection went to another worker")
		case <-time.After(15 * time.Second):
			t.Fatal("a connection handed to the dead worker was lost")
		}
	}
	require.Eventually(t, func() bool {
		w := c.p.Workers()[1]
		return w.Ready && w.PID != stalled.PID && w.Restarts == 1
	}, 10*time.Second, 5*time.Millisecond, "a replacement serves")
	assert.Contains(t, c.logs.String(), fmt.Sprintf("msg=\"worker died\" id=2 pid=%d status=\"signal: killed\" undelivered_connections=3", stalled.PID))
}

func TestCrashLoopBacksOff(t *testing.T) {
	mode := &atomic.Value{}
	mode.Store("die")
	c := startCluster(t, Options{Workers: 1}, mode)
	time.Sleep(2 * time.Second)
	restarts := c.p.Workers()[0].Restarts
	// Unchecked, a worker that dies 50 ms after it starts would be
	// restarted some 20 times in 2 s; backing off 100, 200, 400, 800 ms
	// allows about 4.
	assert.GreaterOrEqual(t, restarts, int64(2))
	assert.LessOrEqual(t, restarts, int64(6))
	assert.Contains(t, c.logs.String(), "worker restarts too often; backing off")
	assert.Contains(t, c.logs.String(), "status=\"exit status 4\"")
}

func TestDrainFinishesInFlightRequests(t *testing.T) {
	c := startCluster(t, Options{Workers: 2}, nil)
	pids := c.pids()
	result := make(chan error, 1)
	go func() {
		_, err := c.get("/slow?ms=700")
		result <- err
	}()
	require.Eventually(t, func() bool {
		ws := c.p.Workers()
		return ws[0].Active+ws[1].Active == 1
	}, 5*time.Second, time.Millisecond)
	c.stop(t)
	require.NoError(t, <-result, "the in-flight request finished")
	for pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "worker %d is gone", pid)
	}
	_, err := net.DialTimeout("tcp", c.addr, time.Second)
	assert.Error(t, err, "no longer listening")
}

func TestStopDuringAReloadFinishesTheOldWorkersRequests(t *testing.T) {
	c := startCluster(t, Options{Workers: 1}, nil)
	old := c.p.Workers()[0].PID
	result := make(chan error, 1)
	go func() {
		_, err := c.get("/slow?ms=1000")
		result <- err
	}()
	require.Eventually(t, func() bool { return c.p.Workers()[0].Active == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, c.p.Reload(context.Background()))
	c.stop(t) // tells the old worker, already draining, to drain again
	require.NoError(t, <-result, "the old worker finished its request")
	assert.Eventually(t, func() bool {
		return strings.Contains(c.logs.String(), fmt.Sprintf("pid=%d status=\"exit status 0\"", old))
	}, 5*time.Second, time.Millisecond, "the old worker exited cleanly")
}

func TestReloadUnderLoadFailsNoRequest(t *testing.T) {
	c := startCluster(t, Options{Workers: 2}, nil)
	before := c.pids()
	// Clients on new connections, and clients that keep theirs.
	fresh := loadgen.Start(2, func() error {
		_, err := c.get("/slow?ms=5")
		return err
	})
	kept := loadgen.Start(4, keepAliveRequests(t, c.addr))
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, c.p.Reload(context.Background()))
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, c.p.Reload(context.Background()))
	time.Sleep(300 * time.Millisecond)
	fresh.Stop()
	kept.Stop()

	for _, load := range []*loadgen.Load{fresh, kept} {
		assert.Zero(t, load.Failed.Load(), "failures: %q", load.Errors())
		assert.Greater(t, load.OK.Load(), int64(20))
	}
	after := c.pids()
	for pid := range after {
		assert.False(t, before[pid], "pid %d is new", pid)
	}
	assert.Equal(t, 3, c.p.Workers()[0].Generation)
	for pid := range before {
		assert.Eventually(t, func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH }, 10*time.Second, 10*time.Millisecond,
			"old worker %d drained and exited", pid)
	}
}

// keepAliveRequests returns a request function for loadgen that sends
// each request on an idle keep-alive connection when there is one, as a
// client's connection pool does, and reuses the connection unless the
// response says Connection: close.
func keepAliveRequests(t *testing.T, addr string) func() error {
	type conn struct {
		net.Conn
		r *bufio.Reader
	}
	idle := make(chan *conn, 16)
	t.Cleanup(func() {
		for len(idle) > 0 {
			(<-idle).Close()
		}
	})
	return func() error {
		var c *conn
		select {
		case c = <-idle:
		default:
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return err
			}
			c = &conn{nc, bufio.NewReader(nc)}
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		res, err := func() (*http.Response, error) {
			if _, err := io.WriteString(c, "GET /slow?ms=2 HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				return nil, err
			}
			res, err := http.ReadResponse(c.r, nil)
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
			}
			return res, err
		}()
		if err != nil || res.Close {
			c.Close()
		} else {
			idle <- c
		}
		return err
	}
}

func TestReloadGivesTheNewGenerationItsEnvironment(t *testing.T) {
	c := startCluster(t, Options{Workers: 2, Env: []string{"TEST_VERSION=1"}}, nil)
	got, err := c.get("/env?name=TEST_VERSION")
	require.NoError(t, err)
	assert.Equal(t, "1", got)

	require.NoError(t, c.p.Reload(context.Background(), "TEST_VERSION=2"))
	victim := c.p.Workers()[0]
	require.NoError(t, syscall.Kill(victim.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		w := c.p.Workers()[0]
		return w.Ready && w.PID != victim.PID
	}, 10*time.Second, 5*time.Millisecond, "a replacement serves")
	for range 4 { // every worker, the replacement too
		got, err := c.get("/env?name=TEST_VERSION")
		require.NoError(t, err)
		assert.Equal(t, "2", got)
	}
}

func TestFailedReloadKeepsTheOldWorkers(t *testing.T) {
	mode := &atomic.Value{}
	mode.Store("")
	c := startCluster(t, Options{Workers: 2}, mode)
	before := c.pids()
	mode.Store("fail")
	err := c.p.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before it was ready: exit status 3")
	mode.Store("")
	assert.Equal(t, before, c.pids())
	body, err := c.get("/")
	require.NoError(t, err)
	assert.True(t, before[atoi(body)], "an old worker still serves")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func TestStartFailsWhenWorkersCannotStart(t *testing.T) {
	mode := &atomic.Value{}
	mode.Store("fail")
	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	p := NewPrimary(Options{Workers: 2, Command: testCommand(mode), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err = p.Serve(context.Background(), ln)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "worker 1")
	assert.Contains(t, err.Error(), "exited before it was ready: exit status 3")
}

func TestSystemdSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DISPATCHER_TEST_MODE=systemd", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	f.Close()
	ln.Close()
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	res, err := http.Get("http://" + ln.Addr().String())
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "activated", string(body))

	_, err = Listen("systemd")
	assert.EqualError(t, err, "no socket from systemd (LISTEN_PID/LISTEN_FDS not set for this process)")
}

func TestUnixSocketListener(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	ln, err := Listen("unix:" + path)
	require.NoError(t, err)
	ln.Close()
	// A stale socket file from an earlier run is replaced.
	stale, err := net.Listen("unix", path)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err = Listen("unix:" + path)
	require.NoError(t, err)
	defer ln.Close()
	// A live one is not.
	_, err = Listen("unix:" + path)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	c, err := net.Dial("unix", path)
	require.NoError(t, err, "the first listener still has its socket")
	c.Close()
}

// flakySource fails with errs in turn, then stops.
type flakySource struct{ errs []error }

func (f *flakySource) accept(conns []handoff) ([]handoff, error) {
	if len(f.errs) == 0 {
		return conns, errStopped
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return conns, err
}

func TestAcceptErrorsBackOff(t *testing.T) {
	logs := &logbuf.Buffer{}
	p := NewPrimary(Options{Logger: logs.Logger()})
	emfile := fmt.Errorf("accept: %w", syscall.EMFILE)
	start := time.Now()
	p.acceptLoop(&flakySource{errs: []error{emfile, emfile, emfile, emfile}})
	assert.GreaterOrEqual(t, time.Since(start), 75*time.Millisecond, "waited 5+10+20+40 ms, not spinning")
	assert.Equal(t, 4, strings.Count(logs.String(), "accept failed; backing off"))
	assert.Contains(t, logs.String(), "delay=40ms")

	logs = &logbuf.Buffer{}
	p = NewPrimary(Options{Logger: logs.Logger()})
	p.acceptLoop(&flakySource{errs: []error{syscall.EBADF, emfile}})
	assert.Contains(t, logs.String(), "accept failed; no longer accepting")
	assert.NotContains(t, logs.String(), "backing off", "a hard error stops the loop")
}

// sink records the reports of workers.
type sink struct {
	mu     sync.Mutex
	last   map[int]string // by pid: slot and report
	exited map[int]int    // by pid: slot
}

func (s *sink) Report(slot, pid int, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[pid] = fmt.Sprintf("%d %s", slot, data)
}

func (s *sink) Exited(slot, pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exited[pid] = slot
}

func (s *sink) get(pid int) (report string, exitedIn int, exited bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exitedIn, exited = s.exited[pid]
	return s.last[pid], exitedIn, exited
}

func TestStandbyIsListedTakesASlotAndWorkersReport(t *testing.T) {
	mode := &atomic.Value{}
	mode.Store("report")
	reports := &sink{last: map[int]string{}, exited: map[int]int{}}
	c := startCluster(t, Options{Workers: 2, Reports: reports}, mode)
	time.Sleep(1100 * time.Millisecond) // past crash-loop backoff: the standby takes over
	ws := c.p.Workers()
	require.Len(t, ws, 3)
	assert.Equal(t, []string{RoleWorker, RoleWorker, RoleStandby}, []string{ws[0].Role, ws[1].Role, ws[2].Role})
	assert.Equal(t, []int{1, 2, 0}, []int{ws[0].ID, ws[1].ID, ws[2].ID})
	victim, standby := ws[0].PID, ws[2].PID
	require.Eventually(t, func() bool { r, _, _ := reports.get(victim); return r == "1 slot=1" }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { r, _, _ := reports.get(standby); return r == "0 slot=0" }, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
	require.Eventually(t, func() bool { return c.p.Workers()[0].PID == standby }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { r, _, _ := reports.get(standby); return r == "1 slot=1" }, 5*time.Second, 10*time.Millisecond,
		"the standby reports in slot 1 and knows it")
	_, slot, exited := reports.get(victim)
	assert.True(t, exited)
	assert.Equal(t, 1, slot)
}

func TestNotReadyOnceDraining(t *testing.T) {
	c := startCluster(t, Options{Workers: 1}, nil)
	require.Eventually(t, c.p.Ready, 5*time.Second, time.Millisecond)
	result := make(chan error, 1)
	go func() {
		_, err := c.get("/slow?ms=1000")
		result <- err
	}()
	require.Eventually(t, func() bool { return c.p.Workers()[0].Active == 1 }, 5*time.Second, time.Millisecond)
	c.cancel()
	assert.Eventually(t, func() bool { return !c.p.Ready() }, 500*time.Millisecond, time.Millisecond, "not ready while draining")
	assert.NoError(t, <-result)
	c.stop(t)
}
