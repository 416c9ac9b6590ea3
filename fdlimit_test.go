package wasmcluster_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// freshGet makes one request on a new connection and returns its status
// and body.
func freshGet(url string) (int, string, error) {
	res, err := fresh.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// fdNumbers returns the fd numbers open in process pid.
func fdNumbers(t *testing.T, pid int) map[int]bool {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	require.NoError(t, err)
	fds := map[int]bool{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		require.NoError(t, err)
		fds[n] = true
	}
	return fds
}

// idleAdminConn makes one keep-alive request to the admin endpoints and
// leaves the connection open, holding one of the primary's fds.
func idleAdminConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.NoError(t, conn.SetDeadline(time.Time{}))
	return conn
}

func TestAtItsFDLimitThePrimaryAnswersAdminAndRestartsWorkersAfter(t *testing.T) {
	s := serve(t)
	pid := s.cmd.Process.Pid
	var saved unix.Rlimit
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &saved))
	restore := sync.OnceFunc(func() { require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &saved, nil)) })
	defer restore()
	setLimit := func(n int) {
		require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: uint64(n), Max: saved.Max}, nil))
	}

	// The limit just above the primary's highest fd, and every free fd
	// number below it taken by an idle admin connection: the primary is
	// at its limit, however its fds were numbered.
	fds := fdNumbers(t, pid)
	limit := 0
	for fd := range fds {
		limit = max(limit, fd+1)
	}
	setLimit(limit)
	var fillers []net.Conn
	defer func() {
		for _, c := range fillers {
			c.Close()
		}
	}()
	for len(fdNumbers(t, pid)) < limit {
		require.Less(t, len(fillers), limit, "the primary's fds stay under its limit")
		fillers = append(fillers, idleAdminConn(t, s.admin))
	}

	// The listener answers too: 503 from its own reserve, or 200 if it
	// found the fd the admin listener freed for a moment.
	code, _, err := freshGet("http://" + s.addr + "/")
	require.NoError(t, err, "new connections are answered, not left waiting")
	assert.Contains(t, []int{http.StatusServiceUnavailable, http.StatusOK}, code)

	admin := "http://" + s.admin
	for _, path := range []string{"/healthz", "/readyz", "/workers"} {
		code, body, err := freshGet(admin + path)
		require.NoError(t, err, "%s answers at the fd limit", path)
		assert.Equal(t, http.StatusOK, code, "%s: %s", path, body)
	}
	// The process collector cannot open its /proc files: an error status,
	// not a hang.
	code, _, err = freshGet(admin + "/metrics")
	require.NoError(t, err, "/metrics answers at the fd limit")
	t.Logf("/metrics at the fd limit: %d", code)

	// A worker killed with no fd to spare at all — a limit below every fd
	// the primary holds, so that the fds the dead worker frees do not
	// count: the standby takes its slot, and the standby's replacement
	// cannot start until fds are back.
	var before []dispatcher.WorkerStats
	_, body, err := freshGet(admin + "/workers")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(body), &before))
	victim := before[0].PID
	setLimit(3)
	require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "cannot restart worker") }, 10*time.Second, 10*time.Millisecond,
		"the failed restart is logged")
	time.Sleep(time.Second) // a few more attempts, with backoff

	restore()
	require.Eventually(t, func() bool {
		ws := s.workers(t)
		for _, w := range ws {
			if !w.Ready || w.PID == victim {
				return false
			}
		}
		return len(ws) == len(before)
	}, 30*time.Second, 20*time.Millisecond, "every slot and the standby serve again")
	assert.Eventually(t, func() bool { return strings.Contains(s.log.String(), "worker restarted") }, 10*time.Second, 10*time.Millisecond,
		"the restart is logged")
	assert.Equal(t, 1, strings.Count(s.log.String(), "cannot restart worker"), "one log line for the run of failures")
	code, _, err = freshGet(admin + "/metrics")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "/metrics again")
	code, _, err = freshGet("http://" + s.addr + "/")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "serving again")
}
