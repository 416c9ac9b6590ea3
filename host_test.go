package wasmcluster_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/dispatcher"
	"github.com/wasmcluster/wasmcluster/internal/loadgen"
	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// These tests build the CLI and the hello example from source and run
// `wasmcluster serve` as a real primary with real worker processes.

func buildCLI(t *testing.T) string {
	t.Helper()
	return testwasm.Cached(t, "wasmcluster CLI", func(dir string) string {
		out := filepath.Join(dir, "wasmcluster")
		testwasm.Run(t, testwasm.Root(), nil, "go", "build", "-o", out, "./cmd/wasmcluster")
		return out
	})
}

// server is a running `wasmcluster serve`.
type server struct {
	cmd   *exec.Cmd
	addr  string // where it serves
	admin string // its admin endpoints
	log   *logbuf.Buffer
	exit  chan error
}

// addrLine finds the address in the log line that announces it, in the
// text or the JSON log format.
var addrLine = regexp.MustCompile(`"?msg"?[=:]"?([a-z ]+)"?[ ,]"?addr"?[=:]"?([^\s"]+)`)

// serve starts `wasmcluster serve` with 2 workers on 127.0.0.1, serving the
// hello example, and waits until it serves.
func serve(t *testing.T, extra ...string) *server {
	t.Helper()
	return serveModule(t, testwasm.GoReactor(t, "examples/hello-wasm/go"), extra...)
}

// serveModule is serve for the module at path.
func serveModule(t *testing.T, path string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--workers", "2", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--drain-timeout", "10s", "--instances", "2"}, extra...)
	args = append(args, path)
	cmd := exec.Command(buildCLI(t), args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir()) // nothing is left in /tmp, even when killed
	// The default key-value store goes under the test's directory, not
	// the user's.
	cmd.Env = append(cmd.Env, "XDG_STATE_HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, log: &logbuf.Buffer{}, exit: make(chan error, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the workers follow (Pdeathsig)
		<-s.exit
		if t.Failed() {
			t.Logf("wasmcluster log:\n%s", s.log)
		}
	})
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.log.Write([]byte(line + "\n"))
			if m := addrLine.FindStringSubmatch(line); m != nil {
				switch m[1] {
				case "admin endpoints":
					s.admin = m[2]
				case "serving":
					s.addr = m[2]
					close(serving)
				}
			}
		}
		s.exit <- cmd.Wait()
	}()
	select {
	case <-serving:
	case err := <-s.exit:
		s.exit <- err
		t.Fatalf("wasmcluster exited before serving: %v\n%s", err, s.log)
	case <-time.After(120 * time.Second):
		t.Fatalf("wasmcluster did not serve within 120s (it compiles the module first)\n%s", s.log)
	}
	return s
}

func (s *server) workers(t *testing.T) []dispatcher.WorkerStats {
	t.Helper()
	res, err := http.Get("http://" + s.admin + "/workers")
	require.NoError(t, err)
	defer res.Body.Close()
	var ws []dispatcher.WorkerStats
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ws))
	return ws
}

// killWorker SIGKILLs the first worker and waits, up to within, until its
// slot serves again from a new process.
func (s *server) killWorker(t *testing.T, within time.Duration) {
	t.Helper()
	victim := s.workers(t)[0]
	require.NoError(t, syscall.Kill(victim.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		for _, w := range s.workers(t) {
			if w.ID == victim.ID && w.PID != victim.PID && w.Ready {
				return true
			}
		}
		return false
	}, within, 10*time.Millisecond, "a replacement serves")
}

// fresh is a client that opens a new connection for every request.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}

func (s *server) get(path string) (*http.Response, string, error) {
	res, err := fresh.Get("http://" + s.addr + path)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, string(body), err
}

func TestServeAnswersAndSpreadsConnections(t *testing.T) {
	s := serve(t)

	res, body, err := s.get("/some/path?q=1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "Hello from wasmcluster: /some/path\n", body)
	assert.Equal(t, "wasmcluster", res.Header.Get("X-Hello"))

	payload := strings.Repeat("echo ", 100_000)
	res, err = fresh.Post("http://"+s.addr+"/", "text/plain", strings.NewReader(payload))
	require.NoError(t, err)
	echoed, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, payload, string(echoed))

	for range 40 {
		_, _, err := s.get("/")
		require.NoError(t, err)
	}
	ws := s.workers(t)
	require.Len(t, ws, 3, "two workers and the standby")
	assert.Equal(t, dispatcher.RoleStandby, ws[2].Role)
	assert.InDelta(t, ws[0].Handed, ws[1].Handed, 1, "round-robin: %+v", ws)
	assert.Equal(t, uint64(42), ws[0].Handed+ws[1].Handed)

	res, err = http.Get("http://" + s.admin + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(metrics), fmt.Sprintf(`wasmcluster_worker_connections_handed_total{worker="1"} %d`, ws[0].Handed))
	res, err = http.Get("http://" + s.admin + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

// startLoad makes GET requests on new connections from 4 goroutines.
func startLoad(s *server) *loadgen.Load {
	return loadgen.Start(4, func() error {
		_, body, err := s.get("/load")
		if err == nil && body != "Hello from wasmcluster: /load\n" {
			err = fmt.Errorf("body %q", body)
		}
		return err
	})
}

func TestKilledWorkerIsReplacedWithoutLosingConnections(t *testing.T) {
	s := serve(t)
	time.Sleep(1100 * time.Millisecond) // past crash-loop backoff: restart at once
	require.Eventually(t, func() bool {
		ws := s.workers(t)
		return len(ws) == 3 && ws[2].Role == dispatcher.RoleStandby && ws[2].Ready
	}, 60*time.Second, 10*time.Millisecond, "the standby is ready to take over")
	victim := s.workers(t)[0]

	load := startLoad(s)
	time.Sleep(300 * time.Millisecond)

	require.NoError(t, syscall.Kill(victim.PID, syscall.SIGKILL))
	killedAt := time.Now()
	load.Mark()
	var replacedIn time.Duration
	for replacedIn == 0 && time.Since(killedAt) < 10*time.Second {
		for _, w := range s.workers(t) {
			if w.ID == victim.ID && w.PID != victim.PID && w.Ready {
				replacedIn = time.Since(killedAt)
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	load.Stop()

	require.NotZero(t, replacedIn, "a replacement worker serves")
	assert.LessOrEqual(t, replacedIn, 250*time.Millisecond, "replacement serving")
	assert.Zero(t, load.FailedAfterMark.Load(), "no connection made after the kill failed: %q", load.Errors())
	assert.LessOrEqual(t, load.Failed.Load(), int64(4), "only requests in flight on the killed worker may fail")
	assert.Greater(t, load.OK.Load(), int64(50))
	t.Logf("replacement serving after %v; %d ok, %d failed (in flight at the kill)", replacedIn, load.OK.Load(), load.Failed.Load())
	assert.Contains(t, s.log.String(), fmt.Sprintf(`msg="worker died" id=%d pid=%d status="signal: killed"`, victim.ID, victim.PID))
}

func TestReloadUnderLoadFailsNoRequest(t *testing.T) {
	s := serve(t)
	before := s.workers(t)

	load := startLoad(s)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		return strings.Contains(s.log.String(), "reloaded: new workers serve")
	}, 20*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	load.Stop()

	assert.Zero(t, load.Failed.Load(), "failures: %q", load.Errors())
	assert.Greater(t, load.OK.Load(), int64(50))
	after := s.workers(t)
	for _, old := range before {
		for _, w := range after {
			assert.NotEqual(t, old.PID, w.PID, "every worker is new")
		}
		assert.Eventually(t, func() bool { return syscall.Kill(old.PID, 0) == syscall.ESRCH }, 10*time.Second, 10*time.Millisecond,
			"old worker %d drained and exited", old.PID)
	}
}

// helloCopy returns the path of a copy of the hello example that the test
// may overwrite.
func helloCopy(t *testing.T) string {
	t.Helper()
	module := filepath.Join(t.TempDir(), "hello.wasm")
	hello, err := os.ReadFile(testwasm.GoReactor(t, "examples/hello-wasm/go"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(module, hello, 0o644))
	return module
}

func TestAReplacedWorkerLoadsTheModuleItsGenerationWasCheckedWith(t *testing.T) {
	module := helloCopy(t)
	s := serveModule(t, module)
	time.Sleep(1100 * time.Millisecond) // past crash-loop backoff: restart at once

	require.NoError(t, os.WriteFile(module, []byte("not wasm any more"), 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "reload refused") }, 20*time.Second, 10*time.Millisecond)

	s.killWorker(t, 10*time.Second)
	time.Sleep(time.Second) // time for a new standby to load, or fail to
	for range 4 {
		res, body, err := s.get("/still")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "Hello from wasmcluster: /still\n", body)
	}
	assert.NotContains(t, s.log.String(), "exit status 1", "no worker failed to load the module")
}

func TestTermFinishesInFlightRequestsAndLeavesNoWorker(t *testing.T) {
	s := serve(t)
	pids := s.workers(t)

	// A POST whose body trickles in for a second is in flight when the
	// primary is told to stop.
	pr, pw := io.Pipe()
	go func() {
		for i := range 10 {
			fmt.Fprintf(pw, "chunk %d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := fresh.Post("http://"+s.addr+"/", "text/plain", pr)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{string(b), err}
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))

	r := <-done
	require.NoError(t, r.err)
	var want strings.Builder
	for i := range 10 {
		fmt.Fprintf(&want, "chunk %d\n", i)
	}
	assert.Equal(t, want.String(), r.body, "the in-flight request finished")

	select {
	case err := <-s.exit:
		s.exit <- err
		require.NoError(t, err, "exit status 0")
	case <-time.After(20 * time.Second):
		t.Fatal("the primary did not exit")
	}
	for _, w := range pids {
		assert.ErrorIs(t, syscall.Kill(w.PID, 0), syscall.ESRCH, "worker %d is gone", w.PID)
	}
	_, err := net.DialTimeout("tcp", s.addr, time.Second)
	assert.Error(t, err, "no longer listening")
}

func TestBadInputExitsWithOneClearLine(t *testing.T) {
	cli := buildCLI(t)
	garbage := filepath.Join(t.TempDir(), "garbage.wasm")
	require.NoError(t, os.WriteFile(garbage, []byte("this is not wasm"), 0o644))

	huge := filepath.Join(t.TempDir(), "huge.wasm")
	require.NoError(t, os.WriteFile(huge, hugeVectorModule, 0o644))
	undeclared := filepath.Join(t.TempDir(), "undeclared.wasm")
	require.NoError(t, os.WriteFile(undeclared, undeclaredTypeModule, 0o644))

	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"module claiming a billion globals", []string{"serve", "--listen", "127.0.0.1:0", huge}, 1,
			"wasmcluster: load module " + huge + ": not a valid Wasm module: section 6 claims 1414745936 entries in 5 bytes"},
		{"module whose validation panics wazero", []string{"serve", "--listen", "127.0.0.1:0", undeclared}, 1,
			"wasmcluster: load module " + undeclared + ": not a valid Wasm module: function 1 has type 64, but the module declares 1 types"},
		{"malformed module", []string{"serve", "--listen", "127.0.0.1:0", garbage}, 1,
			"wasmcluster: load module " + garbage + ": not a valid Wasm module: invalid magic number"},
		{"missing module", []string{"serve", "--listen", "127.0.0.1:0", "/does/not/exist.wasm"}, 1,
			"wasmcluster: load module: open /does/not/exist.wasm: no such file or directory"},
		{"no module", []string{"serve"}, 2, "wasmcluster: serve takes one HANDLER.wasm, got 0 arguments"},
		{"unknown flag", []string{"serve", "--bogus", garbage}, 2, "wasmcluster: flag provided but not defined: -bogus"},
		{"bad size", []string{"serve", "--max-memory", "lots", garbage}, 2,
			`wasmcluster: invalid value "lots" for flag -max-memory: "lots" is not a size like 1048576, 64KiB or 10MB`},
		{"bad policy", []string{"serve", "--balance", "random", garbage}, 2,
			`wasmcluster: unknown balancing policy "random" (want round-robin or least-conn)`},
		{"bad instances", []string{"serve", "--instances", "-3", garbage}, 2,
			"wasmcluster: --instances -3: want a positive count, or 0 for the default"},
		{"bad env", []string{"serve", "--env", "FOO", garbage}, 2, `wasmcluster: --env "FOO": want KEY=VALUE`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(cli, tc.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, tc.status, exit.ExitCode())
			want := tc.want + "\n" // one line, and nothing else: no log, no stack trace
			if tc.status == 2 {
				want += "Run 'wasmcluster serve --help' for usage.\n"
			}
			assert.Equal(t, want, stderr.String())
		})
	}
	var stderr bytes.Buffer
	cmd := exec.Command(cli, "launch")
	cmd.Stderr = &stderr
	var exit *exec.ExitError
	require.ErrorAs(t, cmd.Run(), &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.True(t, strings.HasPrefix(stderr.String(), "wasmcluster: unknown command \"launch\"\n\n"), "then the usage: %s", stderr.String())
}

// hugeVectorModule is 15 bytes whose global section claims 1.4 billion
// entries: a decoder that believes it runs out of memory.
var hugeVectorModule = []byte("\x00asm\x01\x00\x00\x00\x06\x05\xd0\x9e\xcd\xa2\x05")

// undeclaredTypeModule is 30 bytes on which wazero v1.12.0's validator
// panics (index out of range [64] with length 1): function 0 calls
// function 1, whose type is past the module's only one.
var undeclaredTypeModule = []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00\x40\x0a\x09\x02\x04\x00\x10\x01\x0b\x02\x00\x0b")

func TestReloadWithAMalformedModuleKeepsTheOldGenerationServing(t *testing.T) {
	module := helloCopy(t)
	s := serveModule(t, module)
	before := s.workers(t)

	require.NoError(t, os.WriteFile(module, hugeVectorModule, 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(s.log.String(), "reload refused") }, 20*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, strings.Count(s.log.String(), "reload refused"), "one line")
	assert.Contains(t, s.log.String(), "section 6 claims 1414745936 entries in 5 bytes")

	// A second SIGHUP is heard, and refused the same way: here with the
	// module that panics wazero's validator.
	require.NoError(t, os.WriteFile(module, undeclaredTypeModule, 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Count(s.log.String(), "reload refused") == 2 }, 20*time.Second, 10*time.Millisecond)
	assert.Contains(t, s.log.String(), "function 1 has type 64, but the module declares 1 types")
	for range 4 {
		res, body, err := s.get("/still")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "Hello from wasmcluster: /still\n", body)
	}
	after := s.workers(t)
	require.Len(t, after, len(before))
	for i := range before {
		assert.Equal(t, before[i].PID, after[i].PID, "the old workers serve on")
	}
	require.NoError(t, syscall.Kill(s.cmd.Process.Pid, 0), "the primary lives")
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wasmcluster test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSWithHTTP2(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}, Timeout: 10 * time.Second}
	res, err := client.Get("https://" + s.addr + "/secure")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "HTTP/2.0", res.Proto, "ALPN chose HTTP/2")
	assert.Equal(t, "Hello from wasmcluster: /secure\n", string(body))

	// Over TLS the worker cannot see a request's raw header: a chunked
	// HTTP/1.1 request, which may have come with a Content-Length too, is
	// served and its connection closed (RFC 9112 §6.1).
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "POST /chunked HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	res, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.True(t, res.Close, "the connection closes after a chunked request")
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "and nothing after it is answered")
}
