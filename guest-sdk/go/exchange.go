package guest

import (
	"bytes"
	"io"
	"net/http"
)

// Exchange is one request and its response, read from and written to the
// host as the handler asks: no http.Request or http.Header is built and,
// once the first requests have warmed the buffers, nothing is allocated.
// Go compiled to WebAssembly pays about ten times its native price for
// every allocation and map operation, which makes a net/http handler
// cost several microseconds a request; a handler on an Exchange costs
// about what one in C does.
//
// An instance serves one request at a time: a handler must not keep the
// Exchange, or a slice it returned, once it returns.
type Exchange struct {
	next bool
}

// HandleExchange registers f as the handler for every request, in place
// of any registered before (a net/http handler too).
//
//	func init() {
//		guest.HandleExchange(func(x *guest.Exchange) {
//			x.SetHeader("Content-Type", "text/plain")
//			x.WriteString("Hello\n")
//		})
//	}
func HandleExchange(f func(x *Exchange)) { handler, exchangeHandler = nil, f }

// exchangeHandler, when set, serves every request instead of handler.
var exchangeHandler func(x *Exchange)

// serveExchange runs the registered Exchange handler and returns the
// ABI's ctx_next result.
func serveExchange() uint64 {
	x := &state.x
	*x = Exchange{}
	state.body = body{kind: kindRequest}
	exchangeHandler(x)
	if x.next {
		return 1
	}
	return 0
}

// Method returns the request method.
func (x *Exchange) Method() string { return state.ex.readMethod() }

// AppendURI appends the request URI (path and query, as the client sent
// them) to dst.
func (x *Exchange) AppendURI(dst []byte) []byte { return append(dst, field(abi.getURI)...) }

// AppendPath appends the request path, as the client sent it (not
// percent-decoded, without the query), to dst.
func (x *Exchange) AppendPath(dst []byte) []byte {
	uri := field(abi.getURI)
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return append(dst, uri...)
}

// AppendHeader appends the first value of the request header name to
// dst, and reports whether the request has that header.
func (x *Exchange) AppendHeader(dst []byte, name string) ([]byte, bool) {
	// Every value ends in NUL, so a header that is there is never empty.
	values := field(func(b []byte) int { return abi.getHeaderValues(kindRequest, name, b) })
	if len(values) == 0 {
		return dst, false
	}
	if i := bytes.IndexByte(values, 0); i >= 0 {
		values = values[:i]
	}
	return append(dst, values...), true
}

// AppendSourceAddr appends the client's address, host:port, to dst.
func (x *Exchange) AppendSourceAddr(dst []byte) []byte {
	return append(dst, field(abi.getSourceAddr)...)
}

// SetRequestHeader sets the request header name to value before Next
// passes the request on.
func (x *Exchange) SetRequestHeader(name, value string) {
	abi.setHeaderValue(kindRequest, name, value)
}

// Body returns the request body.
func (x *Exchange) Body() io.Reader { return &state.body }

// SetStatus sets the response status code; call it before the first
// Write. Without it, the status is 200.
func (x *Exchange) SetStatus(code int) { abi.setStatusCode(code) }

// SetHeader sets the response header name to value, replacing any values
// it had; call it before the first Write.
func (x *Exchange) SetHeader(name, value string) { abi.setHeaderValue(kindResponse, name, value) }

// AddHeader adds value to the response header name; call it before the
// first Write.
func (x *Exchange) AddHeader(name, value string) { abi.addHeaderValue(kindResponse, name, value) }

// Write appends p to the response body.
func (x *Exchange) Write(p []byte) (int, error) {
	if x.next {
		return 0, http.ErrBodyNotAllowed
	}
	if len(p) > 0 {
		abi.writeBody(kindResponse, p)
	}
	return len(p), nil
}

// WriteString appends s to the response body.
func (x *Exchange) WriteString(s string) (int, error) { return x.Write(stringBytes(s)) }

// ReadFrom copies r to the response body through a buffer the SDK keeps,
// so io.Copy(x, x.Body()) allocates nothing.
func (x *Exchange) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(copyBuf[:])
		if n > 0 {
			if _, werr := x.Write(copyBuf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// copyBuf carries a body through ReadFrom.
var copyBuf [32 << 10]byte

// Next passes the request on to the host's next handler, with the
// response headers set so far; the handler then writes no body.
func (x *Exchange) Next() { x.next = true }
