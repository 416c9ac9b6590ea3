package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Features a guest can enable (http-wasm enable_features).
const (
	featureBufferRequest  = 1
	featureBufferResponse = 2
	featureTrailers       = 4
	featuresSupported     = featureBufferRequest | featureBufferResponse | featureTrailers
)

// exchange is the state of the request an instance is serving. It lives
// inside the instance and is reset for each request, so serving allocates
// little.
type exchange struct {
	inst *instance
	w    http.ResponseWriter
	r    *http.Request
	next http.Handler
	seq  uint64

	features  uint32
	afterNext bool // handle_request has returned next=1

	// Request body.
	body         io.Reader // r.Body behind the size limit, opened on first read
	bodyEOF      bool
	tooLarge     bool
	readBuffered []byte // what the guest read, replayed to next (buffer request)
	newBody      []byte // what the guest wrote as the request body
	bodyReplaced bool

	// Response.
	status      int
	committed   bool  // w.WriteHeader was called
	written     int64 // response bytes the guest wrote
	trailers    http.Header
	captured    *capturedResponse // next's response, when buffered
	capture     capturedResponse  // storage for captured
	recorder    statusRecorder
	captureRead int // read_body(response) offset into captured.body

	ext extState // the last call into the wasmcluster host module

	scope scope // the request's capabilities: context, limits, handles
}

// capturedResponse holds the next handler's response while the guest may
// still change it (feature buffer response).
type capturedResponse struct {
	header   http.Header
	status   int
	body     []byte
	max      int64 // MaxResponseBody; negative: no limit
	overflow bool  // next wrote more than max
	replaced bool  // the guest has written in handle_response
}

// errResponseTooLarge fails a next handler that writes more than
// MaxResponseBody into a buffered response.
var errResponseTooLarge = errors.New("the next handler's response is over the limit")

func (c *capturedResponse) Header() http.Header { return c.header }
func (c *capturedResponse) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capturedResponse) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.max >= 0 && int64(len(c.body)+len(p)) > c.max {
		c.overflow = true
		return 0, errResponseTooLarge
	}
	c.body = append(c.body, p...)
	return len(p), nil
}

// statusRecorder passes the next handler's response straight through,
// noting its status for get_status_code.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (ex *exchange) reset(w http.ResponseWriter, r *http.Request, next http.Handler, seq uint64) {
	*ex = exchange{
		inst:         ex.inst,
		w:            w,
		r:            r,
		next:         next,
		seq:          seq,
		features:     ex.inst.baseFeatures,
		status:       http.StatusOK,
		readBuffered: reuse(ex.readBuffered),
		newBody:      reuse(ex.newBody),
		capture:      capturedResponse{body: reuse(ex.capture.body)},
	}
}

// reuse empties a buffer for the next request, unless it grew large: an
// idle instance should not hold on to a big body.
func reuse(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b[:0]
}

// clear drops the references to the finished request.
func (ex *exchange) clear() {
	ex.scope.end()
	ex.w, ex.r, ex.next, ex.body, ex.trailers, ex.captured = nil, nil, nil, nil, nil, nil
	ex.recorder.ResponseWriter = nil
	ex.capture.header = nil
}

// serveHandler serves one request with a pooled http-wasm instance.
func (h *Handler) serveHandler(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if h.refuseLargeBody(w, r) {
		return
	}
	inst, err := h.pool.get(r.Context())
	if err != nil {
		// No instance in time, or none could start: either way the
		// guest is not available for this request.
		if r.Context().Err() == nil {
			h.cfg.Logger.Error("no guest instance", "error", err)
		}
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	ex := &inst.ex
	ex.reset(w, r, next, h.requestSeq.Add(1))
	inst.begin(r, h.cfg.Timeout)

	healthy := false
	defer func() {
		inst.end()
		ex.clear()
		if healthy {
			h.pool.put(inst)
		} else {
			h.pool.discard(inst)
		}
	}()
	err = ex.run()
	if err == nil {
		healthy = true
		return
	}
	ex.fail(err)
}

// refuseLargeBody answers 413, before any guest runs, a request that
// declares a body over the limit.
func (h *Handler) refuseLargeBody(w http.ResponseWriter, r *http.Request) bool {
	if h.cfg.MaxRequestBody < 0 || r.ContentLength <= h.cfg.MaxRequestBody {
		return false
	}
	http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
	return true
}

// run calls handle_request, then the next handler and handle_response when
// the guest asks for them, and completes the response.
func (ex *exchange) run() error {
	inst := ex.inst
	if err := inst.call(inst.handleRequest); err != nil {
		return err
	}
	ctxNext := inst.stack[0]
	if uint32(ctxNext) == 0 {
		ex.finish()
		return nil
	}
	ex.afterNext = true
	panicked := ex.callNext()
	if ex.captured != nil && ex.captured.overflow && panicked == nil {
		return errResponseTooLarge
	}
	if inst.handleResponse != nil {
		inst.stack[0] = ctxNext >> 32
		inst.stack[1] = 0
		if panicked != nil {
			inst.stack[1] = 1
		}
		if err := inst.call(inst.handleResponse); err != nil {
			return err
		}
	}
	if panicked != nil {
		panic(panicked)
	}
	ex.finish()
	return nil
}

// callNext runs the next handler on the request as the guest left it. A
// panic there is returned, so that handle_response still runs (with
// is_error set) before it goes on.
func (ex *exchange) callNext() (panicked any) {
	r := ex.r
	switch {
	case ex.bodyReplaced:
		r.Body = io.NopCloser(bytes.NewReader(ex.newBody))
		r.ContentLength = int64(len(ex.newBody))
		r.Header.Del("Content-Length")
	case len(ex.readBuffered) > 0:
		rest := ex.body
		if rest == nil || ex.bodyEOF {
			rest = http.NoBody
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(ex.readBuffered), rest))
	}
	var w http.ResponseWriter
	if ex.features&featureBufferResponse != 0 {
		ex.capture.header = make(http.Header)
		ex.capture.max = ex.inst.h.cfg.MaxResponseBody
		ex.captured = &ex.capture
		w = ex.captured
	} else {
		ex.commitHeaders()
		ex.recorder = statusRecorder{ResponseWriter: ex.w}
		w = &ex.recorder
	}
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
		if ex.captured == nil {
			ex.status = orDefault(ex.recorder.status, http.StatusOK)
			ex.committed = ex.committed || ex.recorder.status != 0
		}
	}()
	ex.next.ServeHTTP(w, r)
	return nil
}

func orDefault(v, fallback int) int {
	if v == 0 {
		return fallback
	}
	return v
}

// commitHeaders hands the guest's response trailers to net/http, which
// sends them after the body.
func (ex *exchange) commitHeaders() {
	hdr := ex.w.Header()
	for k, vs := range ex.trailers {
		hdr[http.TrailerPrefix+k] = vs
	}
	ex.trailers = nil
}

// writeHeader sends the status line and headers once.
func (ex *exchange) writeHeader() {
	if !ex.committed {
		ex.committed = true
		ex.commitHeaders()
		if ex.features&featureTrailers != 0 {
			// Trailers the guest sets later can follow only a chunked
			// body; an empty trailer key makes net/http send one.
			ex.w.Header()[http.TrailerPrefix+"Wasmcluster-Trailers"] = nil
		}
		ex.w.WriteHeader(ex.status)
	}
}

// finish completes the response after the guest is done.
func (ex *exchange) finish() {
	if c := ex.captured; c != nil {
		hdr := ex.w.Header()
		clear(hdr)
		for k, vs := range c.header {
			hdr[k] = vs
		}
		ex.status = orDefault(c.status, http.StatusOK)
		ex.writeHeader()
		_, _ = ex.w.Write(c.body) // a client that hung up is not the guest's fault
		return
	}
	ex.writeHeader()
	ex.commitHeaders()
}

// fail answers a request whose guest trapped or was interrupted. The
// client learns the status, never the guest's internals; the log gets the
// reason.
func (ex *exchange) fail(err error) {
	inst := ex.inst
	status := http.StatusInternalServerError
	cause := inst.Err()
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
		inst.log(slog.LevelError, "guest exceeded its deadline", "timeout", inst.h.cfg.Timeout.String())
	case errors.Is(cause, context.Canceled):
		inst.log(slog.LevelDebug, "client went away while the guest ran")
		return
	case errors.Is(cause, errPoolClosed):
		status = http.StatusServiceUnavailable
		inst.log(slog.LevelWarn, "handler closed while the guest ran")
	case ex.tooLarge:
		status = http.StatusRequestEntityTooLarge
		inst.log(slog.LevelWarn, "request body over the limit", "max_body", inst.h.cfg.MaxRequestBody)
	case errors.Is(err, errResponseTooLarge):
		inst.log(slog.LevelError, err.Error(), "max_response", inst.h.cfg.MaxResponseBody)
	default:
		inst.log(slog.LevelError, "guest trapped", "error", err.Error())
	}
	if ex.committed {
		// Part of the response is on its way: cut the connection so the
		// client sees a broken response rather than a short one.
		panic(http.ErrAbortHandler)
	}
	hdr := ex.w.Header()
	clear(hdr)
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(http.StatusText(status))+1))
	ex.w.WriteHeader(status)
	_, _ = io.WriteString(ex.w, http.StatusText(status)+"\n")
}

// requestBody returns the request body as the guest reads it: limited to
// MaxRequestBody and to the request's deadline.
func (ex *exchange) requestBody() io.Reader {
	if ex.body == nil {
		h := ex.inst.h
		var body io.ReadCloser = ex.r.Body
		if body == nil {
			body = http.NoBody
		}
		if h.cfg.MaxRequestBody >= 0 {
			body = http.MaxBytesReader(ex.w, body, h.cfg.MaxRequestBody)
		}
		// Guests may echo as they read: let HTTP/1 read the request while
		// the response is going out, until the request's deadline. Writers
		// that cannot (a recorder in tests) serve as they are.
		rc := http.NewResponseController(ex.w)
		_ = rc.EnableFullDuplex()
		_ = rc.SetReadDeadline(time.Unix(0, ex.inst.deadline.Load()))
		ex.body = body
	}
	return ex.body
}
