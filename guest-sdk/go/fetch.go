package guest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// fetchABI sends outbound HTTP requests through the host.
type fetchABI interface {
	httpRequest(method, url string) int64
	httpHeader(h uint32, name, value string) int64
	httpWrite(h uint32, p []byte) int64
	httpSend(h uint32, buf []byte) int64
	httpRead(h uint32, buf []byte) int64
	httpClose(h uint32) int64
}

// fetches is the host; a Wasm build sets it.
var fetches fetchABI

// Transport is an http.RoundTripper that sends requests through the host,
// to the destinations its operator allows (wasmcluster serve
// --allow-outbound, host.Config.Outbound). A Wasm build installs it as
// http.DefaultTransport, so http.Get, http.DefaultClient and libraries on
// top of them work unchanged. The host follows redirects (to allowed
// destinations only), and bounds each request's time and response size;
// a refused request is an error saying why.
type Transport struct{}

// RoundTrip sends req through the host, streaming its body, and returns
// the response, whose body streams from the host as it is read.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if fetches == nil {
		return nil, errNoHost
	}
	r := fetches.httpRequest(req.Method, req.URL.String())
	if r < 0 {
		return nil, extError(r)
	}
	h := uint32(r)
	res, err := send(h, req)
	if err != nil {
		fetches.httpClose(h)
		return nil, err
	}
	return res, nil
}

// send sends the request of handle h: headers, body, and reads the head of
// the response.
func send(h uint32, req *http.Request) (*http.Response, error) {
	check := func(r int64) error {
		if r < 0 {
			return extError(r)
		}
		return nil
	}
	for name, values := range req.Header {
		for _, v := range values {
			if err := check(fetches.httpHeader(h, name, v)); err != nil {
				return nil, err
			}
		}
	}
	if req.Host != "" && req.Host != req.URL.Host {
		if err := check(fetches.httpHeader(h, "Host", req.Host)); err != nil {
			return nil, err
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.ContentLength > 0 {
			if err := check(fetches.httpHeader(h, "Content-Length", strconv.FormatInt(req.ContentLength, 10))); err != nil {
				return nil, err
			}
		}
		if err := streamBody(h, req.Body); err != nil {
			return nil, err
		}
	}
	head, err := extResult(fetches.httpSend(h, callBuf), callBuf)
	if err != nil {
		return nil, err
	}
	res, err := parseHead(head)
	if err != nil {
		return nil, err
	}
	res.Request = req
	res.Body = &outboundBody{h: h}
	return res, nil
}

// streamBody streams body to the request of handle h.
func streamBody(h uint32, body io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if r := fetches.httpWrite(h, buf[:n]); r < 0 {
				return extError(r)
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("read the request body: %w", err)
		}
	}
}

// parseHead reads a response head as http_send returns it: the status,
// then names and values, each NUL-terminated.
func parseHead(head []byte) (*http.Response, error) {
	parts := strings.Split(string(bytes.TrimSuffix(head, []byte{0})), "\x00")
	code, err := strconv.Atoi(parts[0])
	if err != nil || len(parts)%2 != 1 {
		return nil, errors.New("the host sent a malformed response head")
	}
	res := &http.Response{
		Status:     parts[0] + " " + http.StatusText(code),
		StatusCode: code,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(parts)/2),
	}
	for i := 1; i+1 < len(parts); i += 2 {
		res.Header[parts[i]] = append(res.Header[parts[i]], parts[i+1])
	}
	res.ContentLength = -1
	if cl, err := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64); err == nil {
		res.ContentLength = cl
	}
	return res, nil
}

// outboundBody streams a response body from the host.
type outboundBody struct {
	h      uint32
	eof    bool
	closed bool
}

func (b *outboundBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errors.New("read on a closed response body")
	case b.eof:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	r := fetches.httpRead(b.h, p)
	switch {
	case r < 0:
		return 0, extError(r)
	case r == 0:
		b.eof = true
		return 0, io.EOF
	}
	return int(r), nil
}

func (b *outboundBody) Close() error {
	if !b.closed {
		b.closed = true
		fetches.httpClose(b.h)
	}
	return nil
}
