package dispatcher

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// acceptOne listens on addr, connects to it, sends "ping" and accepts
// the connection with an acceptor.
func acceptOne(t *testing.T, addr string) (net.Listener, *acceptor, net.Conn, handoff) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	acc, err := newAcceptor(ln)
	require.NoError(t, err)
	t.Cleanup(acc.close)
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	_, err = client.Write([]byte("ping")) // the accept waits for it
	require.NoError(t, err)
	conns, err := acc.accept(make([]handoff, 0, 4))
	require.NoError(t, err)
	require.Len(t, conns, 1)
	return ln, acc, client, conns[0]
}

// TestHandedConnectionBehavesAsANetConn takes a connection the way a
// worker does — accepted by the acceptor, served from the bare fd — and
// checks what net/http relies on.
func TestHandedConnectionBehavesAsANetConn(t *testing.T) {
	ln, acc, client, h := acceptOne(t, "127.0.0.1:0")
	for _, opt := range [][2]int{{unix.IPPROTO_TCP, unix.TCP_NODELAY}, {unix.SOL_SOCKET, unix.SO_KEEPALIVE}} {
		v, err := unix.GetsockoptInt(h.fd, opt[0], opt[1])
		require.NoError(t, err)
		assert.NotZero(t, v, "option %d inherited from the listener", opt[1])
	}

	raw, err := ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	require.NoError(t, raw.Control(func(fd uintptr) {
		v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
		assert.NoError(t, err)
		assert.NotZero(t, v, "accepts wait for the client's first bytes")
	}))

	closed := 0
	c, err := newConn(h.fd, newListener(ln.Addr()).local, h.peer.addr(), func() { closed++ })
	require.NoError(t, err)
	assert.Equal(t, client.LocalAddr().String(), c.RemoteAddr().String())
	assert.Equal(t, client.RemoteAddr().String(), c.LocalAddr().String())

	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	_, err = c.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(client, buf)
	require.NoError(t, err)
	assert.Equal(t, "pong", string(buf))

	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err = c.Read(buf)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	assert.True(t, opErr.Timeout(), "a deadline error is a timeout: %v", err)

	require.NoError(t, c.CloseWrite())
	n, err := client.Read(buf)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF, "the client sees the half-close")

	require.NoError(t, c.Close())
	_, err = c.Read(buf)
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.Error(t, c.Close())
	assert.Equal(t, 1, closed, "Close reports once")

	acc.close()
	_, err = acc.accept(make([]handoff, 0, 4))
	assert.True(t, errors.Is(err, errStopped), "accept after close: %v", err)
}

// TestAddressesOfAHandedConnection checks the addresses a worker gives a
// connection without asking the kernel — the peer's from accept, the
// local one from a listener on one IP — against the kernel's, for IPv4
// and IPv6, and that a listener on every address leaves the local one to
// be looked up.
func TestAddressesOfAHandedConnection(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", ":0"} {
		t.Run(addr, func(t *testing.T) {
			ln, _, client, h := acceptOne(t, addr)
			known, err := newConn(h.fd, newListener(ln.Addr()).local, h.peer.addr(), nil)
			require.NoError(t, err)
			defer known.Close()
			require.NotNil(t, h.peer.addr(), "accept gave the peer's address")
			assert.Equal(t, client.LocalAddr().String(), known.RemoteAddr().String())
			assert.Equal(t, client.RemoteAddr().String(), known.LocalAddr().String())

			dup, err := unix.Dup(h.fd)
			require.NoError(t, err)
			looked, err := newConn(dup, nil, nil, nil)
			require.NoError(t, err)
			defer looked.Close()
			assert.Equal(t, known.RemoteAddr(), looked.RemoteAddr())
			assert.Equal(t, known.LocalAddr().String(), looked.LocalAddr().String())
		})
	}
	assert.Nil(t, newListener(&net.TCPAddr{IP: net.IPv6unspecified, Port: 80}).local, "a wildcard listener's connections each have their own local address")
}

// TestMalformedConnsMessageClosesItsFds sends a worker a message that
// announces more connections than it carries, then a good one: the bad
// one is skipped, and the fd that came with it closed, not leaked.
func TestMalformedConnsMessageClosesItsFds(t *testing.T) {
	primary, end, err := socketpair()
	require.NoError(t, err)
	defer primary.Close()
	fc, err := net.FileConn(end)
	require.NoError(t, err)
	end.Close()
	workerEnd := fc.(*net.UnixConn)
	defer workerEnd.Close()

	before := countFDs(t, os.Getpid())
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	_, _, err = primary.WriteMsgUnix(encode(msgConns, 2), unix.UnixRights(int(f.Fd())), nil)
	require.NoError(t, err)
	f.Close()
	_, err = primary.Write(encode(msgDrain, 0))
	require.NoError(t, err)

	msg, err := newMsgReader().read(workerEnd)
	require.NoError(t, err)
	assert.Equal(t, byte(msgDrain), msg.typ)
	assert.Equal(t, before, countFDs(t, os.Getpid()), "the received fd is closed")
}

// TestCloseStillAcceptsWhatWasQueued checks that connections the kernel
// completed before the acceptor closed come out of the last accept, to be
// served, rather than being reset with the listening socket.
func TestCloseStillAcceptsWhatWasQueued(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acc, err := newAcceptor(ln)
	require.NoError(t, err)
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("GET"))
		require.NoError(t, err)
	}
	time.Sleep(100 * time.Millisecond) // queued in the kernel
	acc.close()
	conns, err := acc.accept(make([]handoff, 0, 4))
	assert.ErrorIs(t, err, errStopped)
	assert.Len(t, conns, 3)
	closeConns(conns)
}
