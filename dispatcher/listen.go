package dispatcher

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Listen opens the primary's listening socket. addr is one of
//
//	host:port       a TCP address, e.g. ":8080" or "127.0.0.1:8080"
//	unix:/path      a Unix socket (a stale socket file, one nothing
//	                listens on, is replaced)
//	systemd         the first socket systemd passed (LISTEN_FDS, LISTEN_PID)
func Listen(addr string) (net.Listener, error) {
	switch {
	case addr == "systemd":
		return systemdListener()
	case strings.HasPrefix(addr, "unix:"):
		path := strings.TrimPrefix(addr, "unix:")
		if isStaleSocket(path) {
			_ = os.Remove(path)
		}
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// isStaleSocket reports whether path is a socket file that refuses
// connections: left behind by a server that is gone.
func isStaleSocket(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// systemdListener takes the listening socket of systemd socket activation:
// fd 3, when LISTEN_PID names this process and LISTEN_FDS is at least 1.
func systemdListener() (net.Listener, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if pid != os.Getpid() || n < 1 {
		return nil, errors.New("no socket from systemd (LISTEN_PID/LISTEN_FDS not set for this process)")
	}
	const firstFD = 3
	syscall.CloseOnExec(firstFD)
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	f := os.NewFile(firstFD, "systemd")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("socket from systemd: %w", err)
	}
	return ln, nil
}
