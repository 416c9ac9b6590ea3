package dispatcher

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// scanAll feeds stream to a framing in pieces of size n (0: at once) and
// returns how many bytes passed and the error, if any.
func scanAll(stream string, n int) (int, error) {
	var f framing
	if n == 0 {
		n = len(stream)
	}
	passed := 0
	for len(stream) > 0 {
		piece := stream[:min(n, len(stream))]
		stream = stream[len(piece):]
		pass, err := f.scan([]byte(piece))
		passed += pass
		if err != nil {
			return passed, err
		}
	}
	return passed, nil
}

func TestFramingRefusesAmbiguousRequests(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	const smuggled = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	cases := []struct {
		name, stream string
		refused      string // the reason, or "" if it all passes
	}{
		{"plain GET", get + get, ""},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n" + get, ""},
		{"body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get, ""},
		{"same length twice", "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:  5 \r\n\r\nhello" + get, ""},
		{"a header in a body", fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", len(smuggled)) + smuggled + get, ""},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA \r\n0123456789\r\n0\r\nT: v\r\n\r\n" + get, ""},
		{"a header in a chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled) + get, ""},
		{"HTTP/1.0 length", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", ""},

		{"CL then TE", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"TE then CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"CL and xchunked", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"CL and spaced chunked", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding:  chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"the second request", get + "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"after a chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"differing lengths", "POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "differing Content-Length values"},
		{"signed length", "POST / HTTP/1.1\r\nContent-Length: +4\r\n\r\n", "malformed Content-Length"},
		{"xchunked", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", "unsupported Transfer-Encoding"},
		{"chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "unsupported Transfer-Encoding"},
		{"chunked, gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "unsupported Transfer-Encoding"},
		{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding before HTTP/1.1"},
		{"folded", "POST / HTTP/1.1\r\nX: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", "folded header line"},
		{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"},
		{"bare LF chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", "malformed chunk size"},
		{"no CRLF after a chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", "malformed chunked body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 7} {
				passed, err := scanAll(c.stream, n)
				if c.refused == "" {
					assert.NoError(t, err, "in pieces of %d", n)
					assert.Equal(t, len(c.stream), passed)
					continue
				}
				if assert.Error(t, err, "in pieces of %d", n) {
					assert.Contains(t, err.Error(), c.refused)
				}
				// The refused request's header never ends for the reader.
				assert.False(t, strings.HasSuffix(c.stream[:passed], "\n\n") || strings.HasSuffix(c.stream[:passed], "\n\r\n"),
					"in pieces of %d, passed %q", n, c.stream[:passed])
			}
		})
	}
}

// BenchmarkFraming is the cost of following a keep-alive GET, beside
// net/http's own reading of it: compare the two in one run.
func BenchmarkFraming(b *testing.B) {
	req := []byte("GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	b.Run("framing", func(b *testing.B) {
		var f framing
		for b.Loop() {
			if _, err := f.scan(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http-ReadRequest", func(b *testing.B) {
		r := bytes.NewReader(req)
		br := bufio.NewReader(r)
		for b.Loop() {
			r.Reset(req)
			br.Reset(r)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}
