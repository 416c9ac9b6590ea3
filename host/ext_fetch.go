package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// fetchFuncs send outbound HTTP requests. A request is a handle, valid
// until http_close or the end of the guest's request:
//
//	h = http_request(method, url)         the request line
//	http_header(h, name, value)           any number of headers
//	http_write(h, chunk)                  any number of body chunks, streamed
//	http_send(h, buf, limit)              ends the body; the response head
//	http_read(h, buf, limit)              the response body, 0 at its end
//	http_close(h)
var fetchFuncs = []hostFunc{
	{"http_request", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).httpRequest},
	{"http_header", []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).httpHeader},
	{"http_write", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).httpWrite},
	{"http_send", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).httpSend},
	{"http_read", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).httpRead},
	{"http_close", []api.ValueType{i32}, []api.ValueType{i64}, (*exchange).httpClose},
}

// outboundState is a request's outbound requests, by handle.
type outboundState struct {
	calls []*outboundCall // nil where closed
}

// outboundCall is one outbound request and, once sent, its response.
type outboundCall struct {
	req    *http.Request
	cancel context.CancelFunc
	body   *io.PipeWriter // the request body, once the guest writes one
	done   chan struct{}  // closed when res or err is set
	res    *http.Response
	err    error
	read   io.Reader // res.Body, one byte past the limit
	got    int64     // response body bytes read
	max    int64
}

// errRequestEnded ends the outbound requests of a finished request.
var errRequestEnded = errors.New("the guest's request ended")

// httpRequest is http_request(method, method_len, url, url_len) -> i64:
// a new request's handle.
func (ex *exchange) httpRequest(stack []uint64) {
	ex.inRequest("http_request")
	method := ex.readString(stack[0], stack[1], "http_request")
	rawURL := string(ex.read(stack[2], stack[3], "http_request"))
	c := ex.inst.h.outbound
	st := &ex.scope.out
	switch {
	case len(c.allow) == 0:
		stack[0] = ex.refused(&refusedError{"outbound HTTP is off: no destination is allowed"})
		return
	case len(st.calls) >= c.cfg.MaxRequests:
		stack[0] = ex.extError(fmt.Errorf("http_request: over the limit of %d outbound requests per request", c.cfg.MaxRequests))
		return
	case !isToken(method):
		stack[0] = ex.extError(fmt.Errorf("http_request: %q is not a valid method", method))
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		stack[0] = ex.extError(fmt.Errorf("http_request: %q is not an absolute URL", rawURL))
		return
	}
	ctx, cancel := context.WithTimeout(ex.context(), c.cfg.Timeout)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		cancel()
		stack[0] = ex.extError(fmt.Errorf("http_request: %w", err))
		return
	}
	if err := c.check(req); err != nil {
		cancel()
		stack[0] = ex.refused(err)
		return
	}
	st.calls = append(st.calls, &outboundCall{req: req, cancel: cancel, max: c.cfg.MaxResponseBody})
	stack[0] = uint64(len(st.calls) - 1)
}

// refused fails a call the allow-list refused, with a log line.
func (ex *exchange) refused(err error) uint64 {
	ex.inst.h.metrics.outboundRefused.Inc()
	ex.inst.log(slog.LevelWarn, "outbound request refused", "error", err.Error())
	return ex.extError(err)
}

// outboundCall returns the open request of handle, or nil after ending the
// call with extNotFound.
func (ex *exchange) outboundCall(handle uint64, stack []uint64) *outboundCall {
	calls := ex.scope.out.calls
	if h := uint32(handle); int(h) < len(calls) && calls[h] != nil {
		return calls[h]
	}
	stack[0] = ex.extCode(extNotFound)
	return nil
}

// httpHeader is http_header(handle, name, name_len, value, value_len) ->
// i64: adds a request header. Host sets the request's host; Content-Length
// its body's length, which the guest must then write in full.
func (ex *exchange) httpHeader(stack []uint64) {
	ex.inRequest("http_header")
	oc := ex.outboundCall(stack[0], stack)
	if oc == nil {
		return
	}
	name := ex.readString(stack[1], stack[2], "http_header")
	value := ex.readString(stack[3], stack[4], "http_header")
	var err error
	switch {
	case oc.done != nil:
		err = errors.New("http_header: the request is already on its way")
	case !isToken(name):
		err = fmt.Errorf("http_header: %q is not a valid header name", name)
	case strings.ContainsAny(value, "\r\n\x00"):
		err = fmt.Errorf("http_header: the value of %s holds a line break or NUL", name)
	case strings.EqualFold(name, "host"):
		oc.req.Host = value
	case strings.EqualFold(name, "content-length"):
		n, perr := strconv.ParseInt(value, 10, 64)
		if perr != nil || n < 0 {
			err = fmt.Errorf("http_header: Content-Length %q is not a length", value)
		}
		oc.req.ContentLength = n
	default:
		oc.req.Header.Add(name, value)
	}
	if err != nil {
		stack[0] = ex.extError(err)
		return
	}
	stack[0] = ex.extResult(0, 0, nil)
}

// httpWrite is http_write(handle, chunk, chunk_len) -> i64: streams a
// chunk of the request body. The first write sends the request.
func (ex *exchange) httpWrite(stack []uint64) {
	ex.inRequest("http_write")
	oc := ex.outboundCall(stack[0], stack)
	if oc == nil {
		return
	}
	p := ex.read(stack[1], stack[2], "http_write")
	if oc.done != nil && oc.body == nil {
		stack[0] = ex.extError(errors.New("http_write: the request was sent"))
		return
	}
	if oc.done == nil {
		pr, pw := io.Pipe()
		oc.body = pw
		oc.req.Body = pr
		if oc.req.ContentLength == 0 {
			oc.req.ContentLength = -1 // unknown: sent chunked
		}
		oc.done = make(chan struct{})
		go func() {
			defer close(oc.done)
			oc.res, oc.err = ex.inst.h.outbound.client.Do(oc.req)
			pr.CloseWithError(errors.New("the request is over"))
		}()
	}
	// The pipe hands p to the sending goroutine before Write returns,
	// while the guest, and so its memory, waits.
	if _, err := oc.body.Write(p); err != nil {
		<-oc.done
		stack[0] = ex.outboundError(oc)
		return
	}
	stack[0] = ex.extResult(0, 0, nil)
}

// httpSend is http_send(handle, buf, buf_limit) -> i64: ends the request
// body and waits for the response. The result is the response head as a
// NUL-terminated list: the status code, then each header's name and value
// ("200\0Content-Type\0text/plain\0").
func (ex *exchange) httpSend(stack []uint64) {
	ex.inRequest("http_send")
	oc := ex.outboundCall(stack[0], stack)
	if oc == nil {
		return
	}
	switch {
	case oc.res != nil:
		stack[0] = ex.extError(errors.New("http_send: the request was sent"))
		return
	case oc.done == nil:
		oc.done = make(chan struct{})
		oc.res, oc.err = ex.inst.h.outbound.client.Do(oc.req)
		close(oc.done)
	default:
		_ = oc.body.Close()
		<-oc.done
	}
	if oc.err != nil {
		var refused *refusedError
		if !errors.As(oc.err, &refused) {
			ex.inst.h.metrics.outbound.WithLabelValues(oc.req.URL.Hostname(), outboundErrorClass).Inc()
		}
		stack[0] = ex.outboundError(oc)
		return
	}
	ex.inst.h.metrics.outbound.WithLabelValues(oc.req.URL.Hostname(), statusClass(oc.res.StatusCode)).Inc()
	oc.read = io.LimitReader(oc.res.Body, oc.max+1)
	stack[0] = ex.extResult(stack[1], stack[2], responseHead(oc.res))
}

// outboundError fails a call with the error that ended oc.
func (ex *exchange) outboundError(oc *outboundCall) uint64 {
	var refused *refusedError
	if errors.As(oc.err, &refused) {
		return ex.refused(refused)
	}
	if errors.Is(oc.err, context.DeadlineExceeded) {
		return ex.extError(fmt.Errorf("%s %s: timed out", oc.req.Method, oc.req.URL.Redacted()))
	}
	return ex.extError(oc.err)
}

// responseHead encodes a response's status and headers for http_send.
func responseHead(res *http.Response) []byte {
	b := append(strconv.AppendInt(nil, int64(res.StatusCode), 10), 0)
	for _, name := range slices.Sorted(maps.Keys(res.Header)) {
		for _, v := range res.Header[name] {
			b = append(append(append(append(b, name...), 0), v...), 0)
		}
	}
	return b
}

// httpRead is http_read(handle, buf, buf_limit) -> i64: the next chunk of
// the response body, at most buf_limit bytes, written at buf; 0 at its
// end.
func (ex *exchange) httpRead(stack []uint64) {
	ex.inRequest("http_read")
	oc := ex.outboundCall(stack[0], stack)
	if oc == nil {
		return
	}
	if oc.read == nil {
		stack[0] = ex.extError(errors.New("http_read: the request was not sent"))
		return
	}
	if uint32(stack[2]) == 0 {
		stack[0] = ex.extError(errors.New("http_read: buf_limit is zero"))
		return
	}
	dst := ex.read(stack[1], stack[2], "http_read")
	for {
		n, err := oc.read.Read(dst)
		oc.got += int64(n)
		switch {
		case oc.got > oc.max:
			stack[0] = ex.extError(fmt.Errorf("http_read: the response body of %s is over the limit of %d bytes", oc.req.URL.Redacted(), oc.max))
			return
		case n > 0 || err == io.EOF:
			// The chunk is at buf already: nothing is left to read_result.
			ex.extResult(0, 0, nil)
			stack[0] = uint64(n)
			return
		case err != nil:
			oc.err = err
			stack[0] = ex.outboundError(oc)
			return
		}
	}
}

// httpClose is http_close(handle) -> i64: ends the request and frees its
// handle.
func (ex *exchange) httpClose(stack []uint64) {
	ex.inRequest("http_close")
	if oc := ex.outboundCall(stack[0], stack); oc != nil {
		oc.close()
		ex.scope.out.calls[uint32(stack[0])] = nil
		stack[0] = ex.extResult(0, 0, nil)
	}
}

// close ends the request, whatever it is doing.
func (oc *outboundCall) close() {
	oc.cancel()
	if oc.body != nil {
		oc.body.CloseWithError(errRequestEnded)
	}
	if oc.done != nil {
		<-oc.done
	}
	if oc.res != nil {
		_ = oc.res.Body.Close()
	}
}

// closeAll ends every request still open.
func (st *outboundState) closeAll() {
	for _, oc := range st.calls {
		if oc != nil {
			oc.close()
		}
	}
	st.calls = nil
}
