package dispatcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The control socket between the primary and a worker is a SOCK_SEQPACKET
// socketpair: every message arrives whole. A message is one type byte and
// two little-endian uint32s, a and b; connections travel as SCM_RIGHTS on
// msgConns.
//
// The primary keeps the worker's end open as well as its own. A message
// the worker has not read stays queued on that end, so when a worker dies
// the primary reads back the connections it never took (drainQueue) — no
// acknowledgement has to travel per connection.
const (
	msgConns  = 'F' // primary → worker: a connections, their fds attached
	msgDrain  = 'D' // primary → worker: finish in-flight requests and exit
	msgReady  = 'Y' // worker → primary: serving
	msgClosed = 'C' // worker → primary: a connections closed
	msgServed = 'R' // worker → primary: served a more requests
)

const msgSize = 9

// maxFDsPerMsg stays under the kernel's limit of fds in one message.
const maxFDsPerMsg = 250

func encode(typ byte, a, b uint32) []byte {
	var m [msgSize]byte
	m[0] = typ
	binary.LittleEndian.PutUint32(m[1:], a)
	binary.LittleEndian.PutUint32(m[5:], b)
	return m[:]
}

// socketpair returns the primary's end as a connection and the worker's
// end as a file to pass in ExtraFiles and then keep.
func socketpair() (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	primary := os.NewFile(uintptr(fds[0]), "control")
	defer primary.Close()
	conn, err := net.FileConn(primary)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	return conn.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "control"), nil
}

// sendConns passes fds over c without blocking. It fails with EAGAIN when
// the worker's queue is full — as it soon is when the worker is gone.
func sendConns(c *net.UnixConn, fds []int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		sendErr = unix.Sendmsg(int(fd), encode(msgConns, uint32(len(fds)), 0), unix.UnixRights(fds...), nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	})
	return errors.Join(err, sendErr)
}

// readMsg reads one message, and the fds that came with it.
func readMsg(c *net.UnixConn, oob []byte) (typ byte, a, b uint32, fds []int, err error) {
	var m [msgSize]byte
	nb, noob, _, _, err := c.ReadMsgUnix(m[:], oob)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return parseMsg(m[:nb], oob[:noob])
}

// parseMsg decodes a message read into m, with its control data oob.
func parseMsg(m, oob []byte) (typ byte, a, b uint32, fds []int, err error) {
	if len(oob) > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob)
		if perr != nil {
			return 0, 0, 0, nil, fmt.Errorf("control message: %w", perr)
		}
		for _, m := range msgs {
			got, perr := unix.ParseUnixRights(&m)
			if perr == nil {
				fds = append(fds, got...)
			}
		}
	}
	if len(m) != msgSize {
		closeAll(fds)
		return 0, 0, 0, nil, fmt.Errorf("control message of %d bytes", len(m))
	}
	return m[0], binary.LittleEndian.Uint32(m[1:]), binary.LittleEndian.Uint32(m[5:]), fds, nil
}

// drainQueue reads, without waiting, the messages queued on end — the
// worker's end of a control socket whose worker is gone — and returns the
// fds of the connections they carried.
func drainQueue(end *os.File) []int {
	raw, err := end.SyscallConn()
	if err != nil {
		return nil
	}
	var fds []int
	m := make([]byte, msgSize+1)
	oob := make([]byte, oobSpace)
	_ = raw.Control(func(fd uintptr) {
		for {
			nb, noob, _, _, err := unix.Recvmsg(int(fd), m, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if err != nil || nb == 0 {
				return
			}
			typ, _, _, got, err := parseMsg(m[:nb], oob[:noob])
			if err == nil && typ == msgConns {
				fds = append(fds, got...)
			} else {
				closeAll(got)
			}
		}
	})
	return fds
}

// oobSpace is room for the largest batch of fds in one message.
var oobSpace = unix.CmsgSpace(maxFDsPerMsg * 4)

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// isTemporary reports accept errors worth waiting out rather than
// stopping for: the process or system is out of fds or memory.
func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
