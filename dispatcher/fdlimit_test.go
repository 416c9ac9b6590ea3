package dispatcher

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

// runDialer opens DIAL_N connections to DIAL_ADDR at once, sends a
// request on each and prints how many got a response within 15 s, by
// status, how many were closed without one (cleanly, or by a reset), and
// how many were left hanging.
func runDialer() int {
	n, _ := strconv.Atoi(os.Getenv("DIAL_N"))
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			result := "closed"
			conn, err := net.DialTimeout("tcp", os.Getenv("DIAL_ADDR"), 15*time.Second)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
				fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
				var res *http.Response
				if res, err = http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
					result = strconv.Itoa(res.StatusCode)
					res.Body.Close()
				}
				conn.Close()
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				result = "hanging"
			} else if errors.Is(err, syscall.ECONNRESET) {
				result = "reset"
			}
			mu.Lock()
			counts[result]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println(counts["200"], counts["503"], counts["closed"], counts["reset"], counts["hanging"])
	return 0
}

// dialCounts is what the dialer saw: connections answered 200 or 503,
// closed without an answer cleanly or by a reset, and left hanging.
type dialCounts struct{ ok, busy, closed, reset, hanging int }

// dial runs the dialer for n connections to addr.
func dial(t *testing.T, addr string, n int) (d dialCounts) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DISPATCHER_TEST_MODE=dialer", "DIAL_ADDR="+addr, "DIAL_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	_, err = fmt.Sscan(string(out), &d.ok, &d.busy, &d.closed, &d.reset, &d.hanging)
	require.NoError(t, err, "dialer said %q", out)
	return d
}

func TestPrimaryOutOfFDsRefusesAndRecovers(t *testing.T) {
	c := startCluster(t, Options{Workers: 2, ParkTimeout: 2 * time.Second}, nil)
	_, err := c.get("/")
	require.NoError(t, err)
	baseline := countFDs(t, os.Getpid())
	pids := c.pids()
	for pid := range pids {
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	}
	cont := func() {
		for pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer cont()

	var saved syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved))
	low := saved
	low.Cur = uint64(baseline + 40)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved))
		}
	}
	defer restore()

	// Hold all but a few of the fds left under the limit. A handed-off
	// connection leaves the primary's table while it waits in a worker's
	// socket, and root may keep any number waiting there, so without
	// these the primary would reach its limit only if a worker's socket
	// filled first; with them, 300 connections at once always do.
	var fillers []int
	closeFillers := func() {
		for _, fd := range fillers {
			syscall.Close(fd)
		}
		fillers = nil
	}
	defer closeFillers()
	for openFDs() < int(low.Cur)-8 {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		require.NoError(t, err)
		fillers = append(fillers, fd)
	}

	// 300 connections with the workers stopped: the primary parks what
	// it can, refuses the rest at its fd limit, and answers the parked
	// ones 503 after the park timeout. (Connections taken back from a
	// stopped worker at the limit can only be closed: the kernel has no
	// fd to give them, and their clients see a reset.)
	d := dial(t, c.addr, 300)
	t.Logf("answered 200: %d, 503: %d; closed: %d, reset: %d; hanging: %d", d.ok, d.busy, d.closed, d.reset, d.hanging)
	assert.Zero(t, d.hanging, "every connection answered or closed")
	assert.Positive(t, d.busy, "refused with a 503")

	closeFillers()
	cont()
	restore()
	_, err = c.get("/")
	assert.NoError(t, err, "serving again")
	assert.Eventually(t, func() bool { return countFDs(t, os.Getpid()) <= baseline+3 }, 5*time.Second, 10*time.Millisecond,
		"primary fds back to %d", baseline)
	assert.Equal(t, 1, strings.Count(c.logs.String(), "out of file descriptors"), "one log line")
	if d.reset > 0 {
		// The one way a client sees a reset here: its connection was
		// with a stopped worker, and the primary had no fd to take it
		// back (a 503 is written before a FIN, its request read first).
		assert.Contains(t, c.logs.String(), "the kernel closed them", "resets accounted for")
	}
}

func TestWorkerOutOfFDsLogsAndKeepsCountsRight(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "worker.log")
	mode := modeOf("lowfd")
	c := startCluster(t, Options{Workers: 1, Balancer: LeastConnections(), Env: []string{"DISPATCHER_TEST_LOG=" + logPath}}, mode)

	// Idle connections, holding the worker's few spare fds, then more.
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range 40 {
		conn, err := net.Dial("tcp", c.addr)
		require.NoError(t, err)
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\n") // the header never ends
		conns = append(conns, conn)
	}
	require.Eventually(t, func() bool {
		log, _ := os.ReadFile(logPath)
		return bytes.Contains(log, []byte("out of file descriptors"))
	}, 10*time.Second, 10*time.Millisecond, "the worker logs it")
	for _, conn := range conns {
		conn.Close()
	}
	conns = nil
	assert.Eventually(t, func() bool { return c.p.Workers()[0].Active == 0 }, 15*time.Second, 10*time.Millisecond,
		"no connection counted live")
	_, err := c.get("/")
	assert.NoError(t, err, "serving again")
	log, _ := os.ReadFile(logPath)
	assert.Equal(t, 1, bytes.Count(log, []byte("out of file descriptors")), "one log line:\n%s", log)
}
