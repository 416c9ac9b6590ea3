package dispatcher

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// errStopped is returned by acceptor.accept after stop.
var errStopped = errors.New("acceptor stopped")

// acceptor accepts on the listening socket with raw accept4 calls, so a
// connection costs the primary no more than accept, sendmsg and close: it
// never becomes a net.Conn here. It waits in poll(2) on the socket and on
// a pipe that stop writes to.
type acceptor struct {
	fd   int    // a duplicate of the listener's socket
	wake [2]int // pipe: stop writes, poll wakes
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
	a := &acceptor{fd: -1}
	var dupErr error
	if err := raw.Control(func(fd uintptr) {
		a.fd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("listening socket: %w", dupErr)
	}
	if err := unix.Pipe2(a.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(a.fd)
		return nil, fmt.Errorf("pipe: %w", err)
	}
	return a, nil
}

// accept waits for connections and appends those ready, up to cap(fds).
func (a *acceptor) accept(fds []int) ([]int, error) {
	pfd := []unix.PollFd{{Fd: int32(a.fd), Events: unix.POLLIN}, {Fd: int32(a.wake[0]), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(pfd, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fds, fmt.Errorf("poll: %w", err)
		}
		if pfd[1].Revents != 0 {
			return fds, errStopped
		}
		if pfd[0].Revents != 0 {
			break
		}
	}
	for len(fds) < cap(fds) {
		nfd, _, err := unix.Accept4(a.fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		switch {
		case err == nil:
			fds = append(fds, nfd)
		case errors.Is(err, unix.EAGAIN):
			return fds, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
		default:
			return fds, err
		}
	}
	return fds, nil
}

// stop makes accept return errStopped.
func (a *acceptor) stop() { _, _ = unix.Write(a.wake[1], []byte{0}) }

func (a *acceptor) close() {
	unix.Close(a.fd)
	unix.Close(a.wake[0])
	unix.Close(a.wake[1])
}
