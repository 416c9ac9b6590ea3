// Package testredis starts a real redis-server on 127.0.0.1 for tests,
// on a free port, and stops it when the test ends.
package testredis

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// Server is a running redis-server.
type Server struct {
	t    testing.TB
	path string
	Port int
	cmd  *exec.Cmd
}

// Start starts redis-server on a free loopback port, without persistence.
// Where redis-server is missing a local run skips; under CI it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, path: testwasm.Require(t, "redis-server")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's database 0 as a redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

// Restart starts the server again on its port after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))); err == nil {
			c.Close()
			return
		}
	}
	s.t.Fatalf("redis-server did not listen on port %d within 10s", s.Port)
}

// Stop stops the server, if it runs.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
