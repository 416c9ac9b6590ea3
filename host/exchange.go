package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
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

	features   uint32
	afterNext  bool // handle_request has returned next=1
	nextStatus bool // the next handler set the status

	// Request body.
	body         io.Reader // r.Body behind the size limit, opened on first read
	bodyEOF      bool
	tooLarge     bool
	badBody      error  // reading the body failed: the client's fault
	readBuffered []byte // what the guest read, replayed to next (buffer request)
	newBody      []byte // what the guest wrote as the request body
	bodyReplaced bool

	// Response. Headers and trailers live in w.Header() from the start:
	// the guest, the next handler and net/http share one map, trailers
	// under http.TrailerPrefix as net/http reads them.
	status    int   // the status to send: the guest's, or next's once it sets one
	committed bool  // w.WriteHeader was called
	written   int64 // response bytes the guest wrote
	buffer    responseBuffer
	passing   passThrough // next's writer without buffer response

	ext extState // the last call into the wasmcluster host module

	scope scope // the request's capabilities: context, limits, handles
}

// responseBuffer holds the response body while buffer response is on: what
// the guest writes in handle_request, then the next handler's body, until
// the guest is done. The next handler writes to it as its
// http.ResponseWriter; its headers go straight to the shared header map.
type responseBuffer struct {
	ex       *exchange
	body     []byte
	read     int  // read_body(response) offset into body
	nextRan  bool // the next handler wrote here
	overflow bool // next wrote more than MaxResponseBody
	replaced bool // the guest has written in handle_response
}

// errResponseTooLarge fails a next handler that writes more than
// MaxResponseBody into a buffered response.
var errResponseTooLarge = errors.New("the next handler's response is over the limit")

func (b *responseBuffer) Header() http.Header { return b.ex.w.Header() }

// WriteHeader takes next's status in place of the guest's; later calls
// are ignored, as net/http does.
func (b *responseBuffer) WriteHeader(code int) {
	if !b.ex.nextStatus {
		b.ex.nextStatus = true
		b.ex.status = code
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	max := b.ex.inst.h.cfg.MaxResponseBody
	if max >= 0 && int64(len(b.body)+len(p)) > max {
		b.overflow = true
		return 0, errResponseTooLarge
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

// passThrough is the next handler's writer without buffer response: its
// response goes straight out, with the guest's status unless next sets one.
type passThrough struct {
	ex *exchange
}

func (t *passThrough) Header() http.Header { return t.ex.w.Header() }

func (t *passThrough) WriteHeader(code int) {
	ex := t.ex
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		ex.w.WriteHeader(code) // informational: the final status follows
		return
	}
	if ex.committed {
		return // the guest's write_body already sent the status
	}
	ex.nextStatus = true
	ex.status = code
	ex.writeHeader()
}

func (t *passThrough) Write(p []byte) (int, error) {
	t.ex.writeHeader()
	return t.ex.w.Write(p)
}

// Flush sends what next wrote so far, for handlers that stream.
func (t *passThrough) Flush() {
	t.ex.writeHeader()
	_ = http.NewResponseController(t.ex.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (t *passThrough) Unwrap() http.ResponseWriter { return t.ex.w }

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
		buffer:       responseBuffer{ex: ex, body: reuse(ex.buffer.body)},
		passing:      passThrough{ex: ex},
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
	ex.w, ex.r, ex.next, ex.body = nil, nil, nil, nil
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
		switch {
		case errors.Is(err, errQueueTimeout):
			h.cfg.Logger.Warn("no guest instance free; answered 503", "queue_timeout", h.cfg.QueueTimeout.String())
		case r.Context().Err() == nil:
			h.cfg.Logger.Error("no guest instance", "error", err)
		}
		busy(w)
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
	h.metrics.refusals.WithLabelValues(limitRequestBody).Inc()
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
	if ex.buffer.overflow && panicked == nil {
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
	var w http.ResponseWriter = &ex.passing
	if ex.buffering() {
		ex.buffer.nextRan = true
		w = &ex.buffer
	}
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
		normalizeTrailers(ex.w.Header())
	}()
	ex.next.ServeHTTP(w, r)
	return nil
}

// buffering reports whether the response body is held back (feature
// buffer response, enabled before anything was sent).
func (ex *exchange) buffering() bool {
	return ex.features&featureBufferResponse != 0 && !ex.committed
}

// normalizeTrailers puts the trailers a next handler set in hdr where
// guests read them: under http.TrailerPrefix with a canonical name, the
// values of trailers it declared in a Trailer header included.
func normalizeTrailers(hdr http.Header) {
	for k, vs := range hdr {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
				delete(hdr, k)
				hdr[http.TrailerPrefix+c] = append(hdr[http.TrailerPrefix+c], vs...)
			}
		}
	}
	for _, v := range hdr["Trailer"] {
		for _, name := range strings.Split(v, ",") {
			name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
			if vs, ok := hdr[name]; ok && name != "" {
				delete(hdr, name)
				hdr[http.TrailerPrefix+name] = append(hdr[http.TrailerPrefix+name], vs...)
			}
		}
	}
}

// writeHeader sends the status line and headers once. Trailers set later
// still go out: net/http reads the http.TrailerPrefix keys when the
// handler returns.
func (ex *exchange) writeHeader() {
	if ex.committed {
		return
	}
	ex.committed = true
	if ex.features&featureTrailers != 0 && ex.r.ProtoMajor == 1 {
		// HTTP/1 decides at WriteHeader whether the body is chunked, which
		// trailers need; a declared trailer without values makes it so.
		// HTTP/2 sends trailers as they are, and waits forever for one
		// declared this way, so it gets none.
		ex.w.Header()[http.TrailerPrefix+"Wasmcluster-Trailers"] = nil
	}
	ex.w.WriteHeader(ex.status)
}

// finish completes the response after the guest is done.
func (ex *exchange) finish() {
	ex.writeHeader()
	if len(ex.buffer.body) > 0 {
		_, _ = ex.w.Write(ex.buffer.body) // a client that hung up is not the guest's fault
	}
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
		inst.h.metrics.timeouts.Inc()
		inst.report(slog.LevelError, "guest exceeded its deadline", "timeout", inst.h.cfg.Timeout.String())
	case errors.Is(cause, context.Canceled):
		inst.report(slog.LevelDebug, "client went away while the guest ran")
		return
	case errors.Is(cause, errPoolClosed):
		status = http.StatusServiceUnavailable
		inst.report(slog.LevelWarn, "handler closed while the guest ran")
	case ex.tooLarge:
		status = http.StatusRequestEntityTooLarge
		inst.h.metrics.refusals.WithLabelValues(limitRequestBody).Inc()
		inst.report(slog.LevelWarn, "request body over the limit", "max_body", inst.h.cfg.MaxRequestBody)
	case ex.badBody != nil:
		status = http.StatusBadRequest
		inst.report(slog.LevelInfo, "malformed request body", "error", ex.badBody.Error())
	case errors.Is(err, errResponseTooLarge):
		inst.h.metrics.refusals.WithLabelValues(limitResponseBody).Inc()
		inst.report(slog.LevelError, err.Error(), "max_response", inst.h.cfg.MaxResponseBody)
	default:
		inst.h.metrics.trapped(inst)
		inst.report(slog.LevelError, "guest trapped", "error", err.Error())
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

// controllable reports whether http.ResponseController can reach w's
// connection. For a writer that cannot, its calls only build errors, which
// cost more than the rest of a small request.
func controllable(w http.ResponseWriter) bool {
	switch w.(type) {
	case interface{ EnableFullDuplex() error }, interface{ SetReadDeadline(time.Time) error },
		interface{ Unwrap() http.ResponseWriter }:
		return true
	}
	return false
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
		if controllable(ex.w) {
			rc := http.NewResponseController(ex.w)
			_ = rc.EnableFullDuplex()
			_ = rc.SetReadDeadline(time.Unix(0, ex.inst.deadline.Load()))
		}
		ex.body = body
	}
	return ex.body
}
