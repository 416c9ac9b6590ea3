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
// a little-endian uint32, a. A msgConns message carries its a
// connections as SCM_RIGHTS, and after the header their peers' addresses,
// one peerAddr each.
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
	msgReport = 'M' // worker → primary: WorkerOptions.Report's bytes, after the header
	msgSlot   = 'S' // primary → worker: a standby now serves in slot a
)

const msgSize = 5

// maxFDsPerMsg stays under the kernel's limit of fds in one message.
const maxFDsPerMsg = 250

// maxMsgSize is the size of the largest message: a full msgConns, or a
// msgReport of maxReportSize.
const maxMsgSize = msgSize + max(maxFDsPerMsg*len(peerAddr{}), maxReportSize)

// maxReportSize bounds a worker's report; a larger one is not sent.
const maxReportSize = 60 << 10

func encode(typ byte, a uint32) []byte {
	m := make([]byte, msgSize)
	m[0] = typ
	binary.LittleEndian.PutUint32(m[1:], a)
	return m
}

// handoff is an accepted connection on its way to a worker: its fd, and
// its peer's address as accept gave it, which spares the worker asking.
// Only fd and peer travel.
type handoff struct {
	fd     int
	peer   peerAddr
	parked int64 // unix nanoseconds when first parked, or 0
}

// peerAddr is a raw sockaddr_in or sockaddr_in6, as the kernel writes it.
// Any other family (a Unix socket's peer) is left zero: the worker looks
// that address up itself.
type peerAddr [unix.SizeofSockaddrInet6]byte

// addr returns the address p holds, or nil when it holds none.
func (p *peerAddr) addr() net.Addr {
	port := int(binary.BigEndian.Uint16(p[2:4]))
	switch binary.NativeEndian.Uint16(p[0:2]) {
	case unix.AF_INET:
		return sockaddrAddr(&syscall.SockaddrInet4{Port: port, Addr: [4]byte(p[4:8])})
	case unix.AF_INET6:
		return sockaddrAddr(&syscall.SockaddrInet6{Port: port, Addr: [16]byte(p[8:24]), ZoneId: binary.NativeEndian.Uint32(p[24:28])})
	}
	return nil
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

// sendConns passes conns over c without blocking. It fails with EAGAIN
// when the worker's queue is full — as it soon is when the worker is gone.
func sendConns(c *net.UnixConn, conns []handoff) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	m := make([]byte, 0, msgSize+len(conns)*len(peerAddr{}))
	m = append(m, encode(msgConns, uint32(len(conns)))...)
	fds := make([]int, len(conns))
	for i, h := range conns {
		m = append(m, h.peer[:]...)
		fds[i] = h.fd
	}
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		sendErr = unix.Sendmsg(int(fd), m, unix.UnixRights(fds...), nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	})
	return errors.Join(err, sendErr)
}

// errMalformed marks a message that is not one the other side sends; the
// fds that came with it are closed, and the socket is still usable.
var errMalformed = errors.New("malformed control message")

// message is one control message as read.
type message struct {
	typ   byte
	n     uint32    // what the type counts: connections, closed ones, or requests served
	conns []handoff // msgConns only
	data  []byte    // msgReport only: the report, a copy
	lost  int       // msgConns only: connections whose fds the receiver had no room for
}

// msgReader reads control messages, reusing its buffers.
type msgReader struct {
	m, oob []byte
}

func newMsgReader() *msgReader {
	return &msgReader{m: make([]byte, maxMsgSize+1), oob: make([]byte, oobSpace)}
}

// read reads the next message from c, skipping malformed ones.
func (r *msgReader) read(c *net.UnixConn) (message, error) {
	for {
		nb, noob, flags, _, err := c.ReadMsgUnix(r.m, r.oob)
		if err != nil {
			return message{}, err
		}
		if msg, err := parseMsg(r.m[:nb], r.oob[:noob], flags&unix.MSG_CTRUNC != 0); !errors.Is(err, errMalformed) {
			return msg, err
		}
	}
}

// parseMsg decodes a message read into m, with its control data oob. Fds
// that came with anything but a well-formed msgConns are closed. When the
// receiver was out of fds (truncated: the kernel closed those it could not
// install), the connections that came are kept and the others counted lost.
func parseMsg(m, oob []byte, truncated bool) (message, error) {
	var fds []int
	if len(oob) > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob)
		if err != nil {
			return message{}, fmt.Errorf("%w: %w", errMalformed, err)
		}
		for _, cm := range msgs {
			if got, err := unix.ParseUnixRights(&cm); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if len(m) < msgSize {
		closeAll(fds)
		return message{}, fmt.Errorf("%w of %d bytes", errMalformed, len(m))
	}
	msg := message{typ: m[0], n: binary.LittleEndian.Uint32(m[1:])}
	peers := m[msgSize:]
	if msg.typ == msgReport {
		closeAll(fds)
		msg.data = append([]byte(nil), peers...)
		return msg, nil
	}
	if truncated && msg.typ == msgConns && len(fds) < int(msg.n) && len(peers) == int(msg.n)*len(peerAddr{}) {
		msg.lost = int(msg.n) - len(fds)
		msg.n = uint32(len(fds))
		peers = peers[:len(fds)*len(peerAddr{})]
	}
	if msg.typ != msgConns || len(fds) != int(msg.n) || len(peers) != len(fds)*len(peerAddr{}) {
		closeAll(fds)
		if msg.typ == msgConns {
			return message{}, fmt.Errorf("%w: %d connections, %d fds, %d bytes of addresses", errMalformed, msg.n, len(fds), len(peers))
		}
		return msg, nil
	}
	msg.conns = make([]handoff, len(fds))
	for i, fd := range fds {
		msg.conns[i].fd = fd
		copy(msg.conns[i].peer[:], peers[i*len(peerAddr{}):])
	}
	return msg, nil
}

// drainQueue reads, without waiting, the messages queued on end — the
// worker's end of a control socket whose worker is gone — and returns the
// connections they carried, and how many more were lost for want of fds
// (the kernel closed those: it installs a message's fds all or none).
func drainQueue(end *os.File) (conns []handoff, lost int) {
	raw, err := end.SyscallConn()
	if err != nil {
		return nil, 0
	}
	r := newMsgReader()
	_ = raw.Control(func(fd uintptr) {
		for {
			nb, noob, flags, _, err := unix.Recvmsg(int(fd), r.m, r.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if err != nil || nb == 0 {
				return
			}
			if msg, err := parseMsg(r.m[:nb], r.oob[:noob], flags&unix.MSG_CTRUNC != 0); err == nil {
				conns = append(conns, msg.conns...)
				lost += msg.lost
			}
		}
	})
	return conns, lost
}

// oobSpace is room for the largest batch of fds in one message.
var oobSpace = unix.CmsgSpace(maxFDsPerMsg * 4)

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// closeConns closes connections no worker will take.
func closeConns(conns []handoff) {
	for _, h := range conns {
		unix.Close(h.fd)
	}
}

// isTemporary reports accept errors worth waiting out rather than
// stopping for: the process or system is out of fds or memory.
func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
