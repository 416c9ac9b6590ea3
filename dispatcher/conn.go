package dispatcher

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// conn is a connection the primary handed over, served straight from the
// received fd. net.FileConn would cost a worker five more system calls per
// connection (dup, close, and socket options and type it can do without);
// the fd is non-blocking already, so an os.File of it joins the network
// poller just as a net.Conn does.
type conn struct {
	f             *os.File
	local, remote net.Addr
	once          sync.Once
	onClose       func() // called once, on Close; may be nil

	// check is set to follow the framing of the requests read (plain-text
	// HTTP/1); refused, once set, is what every later Read returns.
	check     bool
	framing   framing
	refused   error
	lingering atomic.Bool
}

// newConn takes ownership of fd. It looks up the addresses it is not
// given (local or remote may be nil), and fails, closing fd, if it cannot
// — when the socket is not connected any more. (It asks package syscall,
// whose conversion, unlike x/sys/unix's, costs no extra system call.)
func newConn(fd int, local, remote net.Addr, onClose func()) (*conn, error) {
	var err error
	if local == nil {
		local, err = lookupAddr(fd, syscall.Getsockname)
	}
	if err == nil && remote == nil {
		remote, err = lookupAddr(fd, syscall.Getpeername)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &conn{f: os.NewFile(uintptr(fd), "conn"), local: local, remote: remote, onClose: onClose}, nil
}

func lookupAddr(fd int, get func(int) (syscall.Sockaddr, error)) (net.Addr, error) {
	sa, err := get(fd)
	if err != nil {
		return nil, err
	}
	return sockaddrAddr(sa), nil
}

// sockaddrAddr converts a socket address as the net package would.
func sockaddrAddr(sa syscall.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *syscall.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			a.Zone = strconv.Itoa(int(sa.ZoneId))
		}
		return a
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return &net.UnixAddr{Net: "unix"} // unnamed
}

// Read reads what the client sent. A request framing refuses does not
// reach the reader: it gets an error instead — not a net.Error, which
// net/http answers 400 Bad Request before it closes the connection.
func (c *conn) Read(p []byte) (int, error) {
	if c.refused != nil {
		return 0, c.refused
	}
	n, err := c.f.Read(p)
	if c.check && n > 0 {
		if pass, refused := c.framing.scan(p[:n]); refused != nil {
			c.refused = refused
			if pass == 0 {
				return 0, refused
			}
			return pass, nil
		}
	}
	return n, c.opError("read", err)
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.opError("write", err)
}

// Close closes the connection and reports it, once. A connection whose
// request was refused closes gently (see lingerClose).
func (c *conn) Close() error {
	if c.refused != nil && !c.lingering.Swap(true) {
		return c.lingerClose()
	}
	err := c.f.Close()
	c.closed()
	return c.opError("close", err)
}

func (c *conn) closed() {
	if c.onClose != nil {
		c.once.Do(c.onClose)
	}
}

// lingerTime and lingerBytes bound what lingerClose reads.
const (
	lingerTime  = time.Second
	lingerBytes = 256 << 10
)

// lingerClose sends what was written and a FIN, then reads what the
// client still sends, for up to lingerTime or lingerBytes, and closes. A
// socket closed with bytes unread sends a reset instead of a FIN, and a
// client that gets the reset before it reads the answer never sees it.
func (c *conn) lingerClose() error {
	if err := c.CloseWrite(); err != nil {
		err = c.f.Close()
		c.closed()
		return c.opError("close", err)
	}
	_ = c.f.SetReadDeadline(time.Now().Add(lingerTime))
	go func() {
		var buf [4096]byte
		for read := 0; read < lingerBytes; {
			n, err := c.f.Read(buf[:])
			if err != nil {
				break
			}
			read += n
		}
		_ = c.f.Close()
		c.closed()
	}()
	return nil
}

// CloseWrite half-closes the connection, which net/http does to close
// gracefully.
func (c *conn) CloseWrite() error {
	raw, err := c.f.SyscallConn()
	if err != nil {
		return c.opError("close", err)
	}
	var shutErr error
	if err := raw.Control(func(fd uintptr) { shutErr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return c.opError("close", err)
	}
	return c.opError("close", shutErr)
}

func (c *conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address. net/http asks for it first thing
// in a connection's goroutine, whose stack is shallow then: the cheapest
// moment to grow it to what serving a request takes. A goroutine starts
// with 2 KiB; left alone, its stack grows twice, the second time deep in
// the guest call, and copying those frames cost a worker 6% of its CPU
// under a stream of short connections.
func (c *conn) RemoteAddr() net.Addr {
	reserveStack()
	return c.remote
}

// reserveStack grows the calling goroutine's stack, if it must, to 8 KiB
// at once, by needing 5 KiB itself.
//
//go:noinline
func reserveStack() {
	var frame [5 << 10]byte
	keep(frame[:])
}

//go:noinline
func keep([]byte) {}

func (c *conn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// opError gives an error the form net.Conn's take, which net/http tells
// apart: a *net.OpError, with net.ErrClosed for a closed connection and
// io.EOF as it is.
func (c *conn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: c.local.Network(), Source: c.local, Addr: c.remote, Err: err}
}
