package dispatcher

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instanceHandler plays a Wasm host's pool of 4 instances: a request
// holds one while the handler runs, and waits at most 10 s for one.
// /echo copies the request body into the response.
func instanceHandler() http.Handler {
	instances := make(chan struct{}, 4)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case instances <- struct{}{}:
		case <-time.After(10 * time.Second):
			http.Error(w, "no instance", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-instances }()
		if r.URL.Path == "/echo" {
			_, _ = io.Copy(w, r.Body)
			return
		}
		workerHandler.ServeHTTP(w, r)
	})
}

// slowBody sends a request whose body comes one byte every 500 ms, until
// stop closes.
func slowBody(t *testing.T, addr string, stop chan struct{}) {
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	go func() {
		defer conn.Close()
		fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
}

// nonReader posts size bytes to /echo and never reads the reply.
func nonReader(t *testing.T, addr string, size int, stop chan struct{}) {
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	go func() {
		<-stop
		conn.Close()
	}()
	go func() {
		fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = conn.Write(make([]byte, size))
	}()
}

func TestSlowClientsHoldNoInstance(t *testing.T) {
	mode := os.Getenv("OVERLOAD_TEST_MODE") // "instances-unbuffered" shows the failure without read-ahead
	if mode == "" {
		mode = "instances"
	}
	modeValue := modeOf(mode)
	c := startCluster(t, Options{Workers: 2, Balancer: LeastConnections()}, modeValue)
	stop := make(chan struct{})
	defer close(stop)
	// 2 workers × 4 instances: 16 slow bodies and 8 non-readers would
	// take every one of them twice over.
	for range 16 {
		slowBody(t, c.addr, stop)
	}
	for range 8 {
		nonReader(t, c.addr, 12<<20, stop)
	}
	time.Sleep(2 * time.Second) // the attack is in place

	for i := range 20 {
		start := time.Now()
		_, err := c.getWithin("/", 2*time.Second)
		require.NoError(t, err, "request %d", i)
		assert.Less(t, time.Since(start), 2*time.Second, "request %d", i)
	}
}

func modeOf(mode string) *atomic.Value {
	m := &atomic.Value{}
	m.Store(mode)
	return m
}

// getWithin is get with a deadline of d for the whole exchange.
func (c *cluster) getWithin(path string, d time.Duration) (string, error) {
	code, body, err := c.status(path, d)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status %d", code)
	}
	return body, err
}

// status makes one request on a new connection, within d, and returns
// the status and body.
func (c *cluster) status(path string, d time.Duration) (int, string, error) {
	conn, err := net.DialTimeout("tcp", c.addr, d)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

func TestStoppedWorkersLeaveNoConnectionUnanswered(t *testing.T) {
	c := startCluster(t, Options{Workers: 2, ParkTimeout: 3 * time.Second}, nil)
	_, err := c.get("/") // warm up lazily opened fds
	require.NoError(t, err)
	baseline := countFDs(t, os.Getpid())
	pids := c.pids()
	cont := func() {
		for pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer cont()

	// ~300 connections a second for 8 s; every worker stopped from 1 s
	// to 6 s.
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := map[string]int{}
	answered := map[int]int{}
	tick := time.NewTicker(time.Second / 300)
	start := time.Now()
	stopped, resumed := false, false
	for time.Since(start) < 8*time.Second {
		<-tick.C
		switch {
		case !stopped && time.Since(start) > time.Second:
			stopped = true
			for pid := range pids {
				require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
			}
		case !resumed && time.Since(start) > 6*time.Second:
			resumed = true
			cont()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, err := c.status("/", 10*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				msg := err.Error()
				if i := strings.LastIndex(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
				failures[msg]++
			} else {
				answered[code]++
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	t.Logf("answered %v; failed %v", answered, failures)
	assert.Empty(t, failures, "every connection answered within 10 s")
	for code := range answered {
		assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code)
	}
	assert.Positive(t, answered[http.StatusOK])
	const slack = 3
	assert.Eventually(t, func() bool { return countFDs(t, os.Getpid()) <= baseline+slack }, 5*time.Second, 10*time.Millisecond,
		"primary fds back to %d", baseline)
}

func TestDrainWithAStoppedWorkerEndsOnTime(t *testing.T) {
	const drainTimeout = 2 * time.Second
	c := startCluster(t, Options{Workers: 2, DrainTimeout: drainTimeout}, nil)
	var pids []int
	for _, w := range c.p.Workers() {
		pids = append(pids, w.PID)
	}
	require.Eventually(t, func() bool {
		c.p.mu.Lock()
		defer c.p.mu.Unlock()
		if c.p.standby == nil {
			return false
		}
		pids = append(pids, c.p.standby.cmd.Process.Pid)
		return true
	}, 20*time.Second, 10*time.Millisecond, "the standby serves")
	stopped := pids[1]
	require.NoError(t, syscall.Kill(stopped, syscall.SIGSTOP))
	defer syscall.Kill(stopped, syscall.SIGCONT)

	// Fill the stopped worker's queue: connections it will never take.
	var conns []net.Conn
	for range 3000 {
		conn, err := net.Dial("tcp", c.addr)
		require.NoError(t, err)
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
		conns = append(conns, conn)
	}
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()

	start := time.Now()
	c.cancel()
	select {
	case err := <-c.done:
		require.NoError(t, err)
	case <-time.After(drainTimeout + 5*time.Second):
		t.Fatal("the drain did not end")
	}
	c.done <- nil
	assert.Less(t, time.Since(start), drainTimeout+time.Second)
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "worker %d is gone", pid)
	}
}
