package dispatcher

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errStopped is returned by acceptor.accept after close.
var errStopped = errors.New("acceptor stopped")

// acceptor accepts on the listening socket with raw accept4 calls, so a
// connection costs the primary no more than accept, sendmsg and close: it
// never becomes a net.Conn here. It waits for connections in Go's network
// poller, as net.Listener.Accept does. (A listener's own RawConn refuses
// Read, so the acceptor polls a duplicate of its socket, as a file.)
type acceptor struct {
	file   *os.File
	raw    syscall.RawConn
	closed atomic.Bool

	// reserve is an fd held back for the moment the process runs out:
	// closed, it makes room to accept a connection and close it, which
	// takes it off the backlog rather than leave every client waiting.
	reserve int
	// refuse answers and closes a connection so accepted. Default: close.
	refuse func(handoff)
}

func newAcceptor(ln net.Listener) (*acceptor, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("listener %T does not expose its socket", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	_, isTCP := ln.(*net.TCPListener)
	dup, dupErr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) {
		if isTCP {
			setConnOptions(int(fd))
		}
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("listening socket: %w", dupErr)
	}
	// The socket is non-blocking, so the file joins the network poller.
	a := &acceptor{file: os.NewFile(uintptr(dup), "listener"), reserve: openReserve(), refuse: func(h handoff) { unix.Close(h.fd) }}
	if a.raw, err = a.file.SyscallConn(); err != nil {
		a.file.Close()
		return nil, err
	}
	return a, nil
}

// setConnOptions sets, on a listening TCP socket, the options its
// connections inherit and that a net.TCPListener would set on each: no
// Nagle delay, and keep-alive probes after 15 s idle. It also defers each
// accept until the client has sent something, as HTTP clients do first:
// the worker then finds the request waiting rather than waiting for it.
func setConnOptions(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
}

// accept waits for connections and appends those ready, up to
// cap(conns).
func (a *acceptor) accept(conns []handoff) ([]handoff, error) {
	var acceptErr error
	err := a.raw.Read(func(fd uintptr) bool {
		for len(conns) < cap(conns) {
			var h handoff
			var err error
			h.fd, err = accept4(int(fd), &h.peer)
			switch {
			case err == nil:
				conns = append(conns, h)
			case errors.Is(err, unix.EAGAIN):
				return len(conns) > 0 // none yet: wait in the poller
			case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			case (errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)) && a.shed(int(fd)):
			default:
				acceptErr = err
				return true
			}
		}
		return true
	})
	if err != nil && a.closed.Load() {
		return a.sweep(conns), errStopped
	}
	return conns, errors.Join(err, acceptErr)
}

// sweep accepts, without waiting, what the kernel has queued, then closes
// the acceptor's socket: connections it completed before the drain are
// served, rather than reset when the listening socket closes.
func (a *acceptor) sweep(conns []handoff) []handoff {
	_ = a.raw.Control(func(fd uintptr) {
		for {
			var h handoff
			var err error
			if h.fd, err = accept4(int(fd), &h.peer); err != nil {
				if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
					continue
				}
				return
			}
			conns = append(conns, h)
		}
	})
	a.release()
	return conns
}

// shed accepts one connection with the reserve fd's room and refuses it,
// then takes the reserve back. It reports false when there is no reserve
// or no connection.
func (a *acceptor) shed(fd int) bool {
	if a.reserve < 0 {
		if a.reserve = openReserve(); a.reserve < 0 {
			return false
		}
	}
	unix.Close(a.reserve)
	var h handoff
	var err error
	h.fd, err = accept4(fd, &h.peer)
	if err == nil {
		a.refuse(h)
	}
	a.reserve = openReserve()
	return err == nil
}

func openReserve() int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// accept4 accepts one connection, non-blocking and close-on-exec, and
// copies its peer's IPv4 or IPv6 address into peer as the kernel wrote
// it. (unix.Accept4 would convert the address at the price of one more
// system call.)
func accept4(fd int, peer *peerAddr) (int, error) {
	var sa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(sa))
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)),
		unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	if f := sa.Addr.Family; f == unix.AF_INET || f == unix.AF_INET6 {
		copy(peer[:], (*[unsafe.Sizeof(sa)]byte)(unsafe.Pointer(&sa))[:min(int(n), len(peer))])
	}
	return int(nfd), nil
}

// release closes the acceptor's socket and its reserve fd.
func (a *acceptor) release() {
	_ = a.file.Close()
	if a.reserve >= 0 {
		unix.Close(a.reserve)
		a.reserve = -1
	}
}

// close makes accept return errStopped, with what was queued still.
func (a *acceptor) close() {
	a.closed.Store(true)
	_ = a.file.SetReadDeadline(time.Now()) // wakes accept
}
