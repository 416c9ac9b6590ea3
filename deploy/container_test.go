package deploy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/loadgen"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// freePort returns a port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// TestContainerDrainsOnDockerStop builds the image, serves the hello
// example from it on 127.0.0.1 (host network) and stops it with docker
// stop under load: it exits 0 within the grace period, and every request
// either succeeds or, once the listener closed, is refused.
func TestContainerDrainsOnDockerStop(t *testing.T) {
	requireDocker(t)
	testwasm.Run(t, testwasm.Root(), nil, "make", "image")

	port, admin := freePort(t), freePort(t)
	name := fmt.Sprintf("wasmcluster-test-%d", os.Getpid())
	docker(t, "run", "-d", "--network", "host", "--name", name, "wasmcluster:latest", "serve",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin", fmt.Sprintf("127.0.0.1:%d", admin),
		"--workers", "2", "--drain-timeout", "10s", "/srv/hello.wasm")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Logf("container log:\n%s", out)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	require.Eventually(t, func() bool {
		res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", admin))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "the container serves")

	var refused, reset atomic.Int64
	url := fmt.Sprintf("http://127.0.0.1:%d/load", port)
	load := loadgen.Start(4, func() error {
		res, err := client.Get(url)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			refused.Add(1) // the drain closed the listener: refused, not failed
			time.Sleep(5 * time.Millisecond)
			return nil
		case errors.Is(err, syscall.ECONNRESET):
			// A connection the kernel completed in the instant the
			// listening socket closed is reset, not refused; that no
			// worker saw it is checked below, against the access log.
			reset.Add(1)
			return nil
		}
		if err != nil {
			return err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil && (res.StatusCode != http.StatusOK || string(body) != "Hello from wasmcluster: /load\n") {
			err = fmt.Errorf("status %d, body %q", res.StatusCode, body)
		}
		return err
	})
	time.Sleep(time.Second)
	const grace = 20 * time.Second
	start := time.Now()
	docker(t, "stop", "-t", fmt.Sprint(int(grace.Seconds())), name)
	stopped := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	load.Stop()

	assert.Equal(t, "0 false", docker(t, "inspect", "-f", "{{.State.ExitCode}} {{.State.Running}}", name),
		"exit status 0; no process left in the container")
	assert.Less(t, stopped, grace, "stopped within the grace period, not killed")
	assert.Zero(t, load.Failed.Load(), "failed requests: %q", load.Errors())
	logs := docker(t, "logs", name)
	assert.Contains(t, logs, "draining")
	served := load.OK.Load() - refused.Load() - reset.Load() // loadgen counts what returned nil
	assert.Equal(t, int(served), strings.Count(logs, "msg=request "),
		"every request a worker served reached its client: a reset connection was never served")
	assert.NotContains(t, logs, "aborted=true")
	assert.Greater(t, served, int64(20))
	t.Logf("docker stop took %v; %d requests served, %d refused and %d reset as the listener closed", stopped, served, refused.Load(), reset.Load())
}
