package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// TestGreetThroughTheCluster builds the example as its doc comment says —
// go generate, then the program — and runs it with 2 workers: each
// worker's guest greets through the function the program registered.
func TestGreetThroughTheCluster(t *testing.T) {
	root := testwasm.Root()
	testwasm.Run(t, root, nil, "go", "generate", "./examples/host-functions")
	bin := filepath.Join(t.TempDir(), "host-functions")
	testwasm.Run(t, root, nil, "go", "build", "-o", bin, "./examples/host-functions")

	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--workers", "2")
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir()) // killed, it leaves its temporary directory there
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var log logbuf.Buffer
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the workers follow
		<-exited
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})
	serving := make(chan string, 1)
	go func() {
		defer close(exited)
		servingLine := regexp.MustCompile(`msg=serving addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = log.Write([]byte(sc.Text() + "\n"))
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				serving <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-serving:
	case <-exited:
		t.Fatal("the example exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatal("the example did not serve within 60s")
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	get := func(path string) (int, string) {
		res, err := client.Get("http://" + addr + path)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}
	greeting := regexp.MustCompile(`^Hello, Ada! Visit (\d+) to worker (\d+)\.\n$`)
	workers := map[string]bool{}
	for range 6 {
		code, body := get("/greet?name=Ada")
		require.Equal(t, http.StatusOK, code, body)
		m := greeting.FindStringSubmatch(body)
		require.NotNil(t, m, "body %q", body)
		workers[m[2]] = true
	}
	assert.Len(t, workers, 2, "both workers greeted through their own function")

	code, body := get("/greet")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "greet: no name\n", body, "the function's error reached the guest")
}
