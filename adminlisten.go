package wasmcluster

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// reserveListener keeps the admin endpoints answering while the process
// is out of file descriptors — when an operator most wants to ask it. It
// holds one fd in reserve; when accept fails for want of fds, it closes
// the reserve, accepts one connection in its place, and takes the reserve
// back when that connection closes. One such connection at a time, for
// one request (see closeReserveConnWhenIdle); other clients wait in the
// backlog meanwhile, as net/http backs off (up to a second) and accepts
// again.
type reserveListener struct {
	net.Listener
	mu      sync.Mutex
	reserve int  // the reserve fd, or -1
	inUse   bool // a connection holds the reserve's place
}

func newReserveListener(ln net.Listener) *reserveListener {
	return &reserveListener{Listener: ln, reserve: openReserve()}
}

// Accept accepts the next connection, in the reserve's place if it must.
func (l *reserveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
		return c, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse {
		return nil, err
	}
	if l.reserve < 0 {
		l.reserve = openReserve() // lost earlier: try again
		return nil, err
	}
	d, ok := l.Listener.(deadliner)
	if !ok {
		return nil, err
	}
	// At the limit accept fails whether or not a client waits, so this
	// accept must not wait: its room would go to the first fd the process
	// opens meanwhile.
	syscall.Close(l.reserve)
	l.reserve = -1
	_ = d.SetDeadline(time.Now().Add(time.Millisecond))
	c, rerr := l.Listener.Accept()
	_ = d.SetDeadline(time.Time{})
	if rerr != nil {
		l.reserve = openReserve()
		return nil, err
	}
	l.inUse = true
	return &reserveConn{Conn: c, l: l}, nil
}

type deadliner interface{ SetDeadline(time.Time) error }

// Close closes the listener and the reserve.
func (l *reserveListener) Close() error {
	l.mu.Lock()
	if l.reserve >= 0 {
		syscall.Close(l.reserve)
		l.reserve = -1
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// reserveConn is a connection accepted in the reserve's place.
type reserveConn struct {
	net.Conn
	l    *reserveListener
	once sync.Once
}

// Close closes the connection and takes the reserve back.
func (c *reserveConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.inUse = false
		c.l.reserve = openReserve()
		c.l.mu.Unlock()
	})
	return err
}

// closeReserveConnWhenIdle is an http.Server's ConnState hook: a
// connection in the reserve's place closes after its request, rather than
// hold the place while idle.
func closeReserveConnWhenIdle(c net.Conn, s http.ConnState) {
	if rc, ok := c.(*reserveConn); ok && s == http.StateIdle {
		_ = rc.Close()
	}
}

func openReserve() int {
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}
