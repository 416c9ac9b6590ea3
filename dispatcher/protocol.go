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
const (
	msgConns  = 'F' // primary → worker: a connections, their fds attached
	msgDrain  = 'D' // primary → worker: finish in-flight requests and exit
	msgReady  = 'Y' // worker → primary: serving
	msgAck    = 'A' // worker → primary: received a connections; b closed since the last report
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
// end as a file to pass in ExtraFiles.
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
// the worker's queue is full, and with EPIPE when the worker is gone.
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
	if noob > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:noob])
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
	if nb != msgSize {
		closeAll(fds)
		return 0, 0, 0, nil, fmt.Errorf("control message of %d bytes", nb)
	}
	return m[0], binary.LittleEndian.Uint32(m[1:]), binary.LittleEndian.Uint32(m[5:]), fds, nil
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
