package dispatcher

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestHandedConnectionBehavesAsANetConn takes a connection the way a
// worker does — accepted by the acceptor, served from the bare fd — and
// checks what net/http relies on.
func TestHandedConnectionBehavesAsANetConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acc, err := newAcceptor(ln)
	require.NoError(t, err)
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	_, err = client.Write([]byte("ping")) // the accept waits for it
	require.NoError(t, err)

	fds, err := acc.accept(make([]int, 0, 4))
	require.NoError(t, err)
	require.Len(t, fds, 1)
	for _, opt := range [][2]int{{unix.IPPROTO_TCP, unix.TCP_NODELAY}, {unix.SOL_SOCKET, unix.SO_KEEPALIVE}} {
		v, err := unix.GetsockoptInt(fds[0], opt[0], opt[1])
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
	c, err := newConn(fds[0], func() { closed++ })
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
	_, err = acc.accept(make([]int, 0, 4))
	assert.True(t, errors.Is(err, errStopped), "accept after close: %v", err)
}
