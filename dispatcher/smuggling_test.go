package dispatcher

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchange sends raw on a new connection to addr and reads the responses
// to the requests in it, in order, until the connection ends. It returns
// their statuses and bodies, and how the connection ended: "eof", "reset"
// or the error.
func exchange(t *testing.T, addr, raw string) (statuses []int, bodies []string, end string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(15*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	for {
		if _, err := br.Peek(1); err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return statuses, bodies, "eof"
			case errors.Is(err, syscall.ECONNRESET):
				return statuses, bodies, "reset"
			}
			return statuses, bodies, err.Error()
		}
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		statuses, bodies = append(statuses, res.StatusCode), append(bodies, string(body))
	}
}

func TestRequestsWithAmbiguousLengthsAreRefused(t *testing.T) {
	c := startCluster(t, Options{Workers: 1}, nil)
	// What a front end that reads the other length would take for the
	// start of a second request: it must never be answered.
	const smuggled = "GET /env?name=HOME HTTP/1.1\r\nHost: a\r\n\r\n"
	const last = "GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	refused := map[string]string{
		"CL+TE":                 "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"TE+CL":                 "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\n" + smuggled,
		"differing CL":          "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n" + smuggled,
		"CL+xchunked":           "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled,
		"CL+' chunked'":         "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"CL+folded TE":          "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"xchunked alone":        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled,
		"after a good request":  "GET /echo HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"HTTP/1.0 with chunked": "POST /echo HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
	}
	for name, raw := range refused {
		t.Run(name, func(t *testing.T) {
			statuses, _, end := exchange(t, c.addr, raw+last)
			require.NotEmpty(t, statuses)
			assert.Equal(t, http.StatusBadRequest, statuses[len(statuses)-1], "refused, and nothing after it answered")
			assert.Equal(t, "eof", end, "the connection closed cleanly")
			_, err := c.get("/")
			assert.NoError(t, err, "the next connection is served")
		})
	}

	t.Run("chunked and Content-Length bodies on one connection", func(t *testing.T) {
		statuses, bodies, end := exchange(t, c.addr,
			"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n"+
				"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello again"+
				"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Length: 11\r\n\r\nand again!!"+
				last)
		assert.Equal(t, []int{200, 200, 200, 200}, statuses)
		assert.Equal(t, []string{"hello world!", "hello again", "and again!!", ""}, bodies)
		assert.Equal(t, "eof", end)
	})
}
