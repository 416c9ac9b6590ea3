package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// abiModule is the host module of the http-wasm handler ABI.
const abiModule = "http_handler"

// Header kinds and body kinds of the ABI.
const (
	kindRequest          = 0
	kindResponse         = 1
	kindRequestTrailers  = 2
	kindResponseTrailers = 3
)

// Log levels of the ABI.
const (
	logDebug = -1
	logInfo  = 0
	logWarn  = 1
	logError = 2
)

// hostFunc is one function of the ABI. Its i32 parameters arrive in the
// low 32 bits of their stack slots; the high bits are not cleared.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(ex *exchange, stack []uint64)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// abiFuncs is the whole ABI; every function runs on behalf of one instance,
// found in the call's context.
var abiFuncs = []hostFunc{
	{"enable_features", []api.ValueType{i32}, []api.ValueType{i32}, (*exchange).enableFeatures},
	{"get_config", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getConfig},
	{"log_enabled", []api.ValueType{i32}, []api.ValueType{i32}, (*exchange).logEnabled},
	{"log", []api.ValueType{i32, i32, i32}, nil, (*exchange).log},
	{"get_method", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getMethod},
	{"set_method", []api.ValueType{i32, i32}, nil, (*exchange).setMethod},
	{"get_uri", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getURI},
	{"set_uri", []api.ValueType{i32, i32}, nil, (*exchange).setURI},
	{"get_protocol_version", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getProtocolVersion},
	{"get_header_names", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).getHeaderNames},
	{"get_header_values", []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).getHeaderValues},
	{"set_header_value", []api.ValueType{i32, i32, i32, i32, i32}, nil, (*exchange).setHeaderValue},
	{"add_header_value", []api.ValueType{i32, i32, i32, i32, i32}, nil, (*exchange).addHeaderValue},
	{"remove_header", []api.ValueType{i32, i32, i32}, nil, (*exchange).removeHeader},
	{"read_body", []api.ValueType{i32, i32, i32}, []api.ValueType{i64}, (*exchange).readBody},
	{"write_body", []api.ValueType{i32, i32, i32}, nil, (*exchange).writeBody},
	{"get_status_code", nil, []api.ValueType{i32}, (*exchange).getStatusCode},
	{"set_status_code", []api.ValueType{i32}, nil, (*exchange).setStatusCode},
	{"get_source_addr", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).getSourceAddr},
}

// abiFunctions names the functions of abiFuncs, to check imports.
var abiFunctions = funcNames(abiFuncs)

// funcNames is the set of the names in funcs.
func funcNames(funcs []hostFunc) map[string]bool {
	m := make(map[string]bool, len(funcs))
	for _, f := range funcs {
		m[f.name] = true
	}
	return m
}

// instantiateHostModule defines the host module name with funcs in r.
func instantiateHostModule(ctx context.Context, r wazero.Runtime, name string, funcs []hostFunc) error {
	b := r.NewHostModuleBuilder(name)
	for _, f := range funcs {
		fn := f.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				inst := ctx.Value(instanceKey{}).(*instance)
				inst.check() // an interrupted guest does no more work here
				fn(&inst.ex, stack)
			}), f.params, f.results).
			Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// trap stops the guest with a message for the log. wazero turns the panic
// into an error from the guest call.
func trap(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}

// inRequest traps when a request-scoped function is called outside one,
// for example from a guest's initialization.
func (ex *exchange) inRequest(fn string) {
	if ex.r == nil {
		trap("%s called outside a request", fn)
	}
}

// read returns guest memory [ptr, ptr+n), trapping when out of bounds. The
// slice aliases guest memory: use it before the guest runs again.
func (ex *exchange) read(ptr, n uint64, what string) []byte {
	b, ok := ex.inst.mem.Read(uint32(ptr), uint32(n))
	if !ok {
		trap("%s: %d bytes at %d are outside guest memory", what, uint32(n), uint32(ptr))
	}
	return b
}

// readString returns guest memory [ptr, ptr+n) as a string. Short strings
// are interned per instance: guests set the same header names and values
// on every request, and this spares an allocation for each.
func (ex *exchange) readString(ptr, n uint64, what string) string {
	b := ex.read(ptr, n, what)
	if len(b) > maxInterned {
		return string(b)
	}
	strs := &ex.inst.strings
	if s, ok := (*strs)[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(*strs) < maxInternedCount {
		if *strs == nil {
			*strs = make(map[string]string)
		}
		(*strs)[s] = s
	}
	return s
}

// Bounds of the per-instance string intern table.
const (
	maxInterned      = 64
	maxInternedCount = 256
)

// writeIfFits follows the ABI's buf/buf_limit convention: s is written at
// buf only if it fits in limit bytes; its length is returned either way.
func (ex *exchange) writeIfFits(buf, limit uint64, s string, what string) uint64 {
	if len(s) <= int(uint32(limit)) && len(s) > 0 {
		copy(ex.read(buf, uint64(len(s)), what), s)
	}
	return uint64(len(s))
}

// --- Administrative functions ---

func (ex *exchange) enableFeatures(stack []uint64) {
	f := uint32(stack[0]) & featuresSupported
	if ex.r == nil {
		ex.inst.baseFeatures |= f
		ex.features = ex.inst.baseFeatures
	} else {
		ex.features |= f
	}
	stack[0] = uint64(ex.features)
}

func (ex *exchange) getConfig(stack []uint64) {
	stack[0] = ex.writeIfFits(stack[0], stack[1], string(ex.inst.h.cfg.GuestConfig), "get_config")
}

func slogLevel(level int32) (slog.Level, bool) {
	switch level {
	case logDebug:
		return slog.LevelDebug, true
	case logInfo:
		return slog.LevelInfo, true
	case logWarn:
		return slog.LevelWarn, true
	case logError:
		return slog.LevelError, true
	}
	return 0, false
}

func (ex *exchange) logEnabled(stack []uint64) {
	level, ok := slogLevel(int32(stack[0]))
	enabled := ok && ex.inst.h.cfg.Logger.Enabled(context.Background(), level)
	stack[0] = 0
	if enabled {
		stack[0] = 1
	}
}

func (ex *exchange) log(stack []uint64) {
	msg := ex.read(stack[1], stack[2], "log")
	if level, ok := slogLevel(int32(stack[0])); ok {
		ex.inst.log(level, string(msg[:min(len(msg), maxLogLine)]))
	}
}

// --- Request line ---

func (ex *exchange) getMethod(stack []uint64) {
	ex.inRequest("get_method")
	stack[0] = ex.writeIfFits(stack[0], stack[1], ex.r.Method, "get_method")
}

func (ex *exchange) setMethod(stack []uint64) {
	ex.inRequest("set_method")
	m := ex.readString(stack[0], stack[1], "set_method")
	if m == "" || strings.IndexFunc(m, notTokenRune) >= 0 {
		trap("set_method: %q is not a valid method", m)
	}
	ex.r.Method = m
}

func (ex *exchange) getURI(stack []uint64) {
	ex.inRequest("get_uri")
	uri := ex.r.RequestURI
	if uri == "" || uri[0] != '/' {
		uri = ex.r.URL.RequestURI()
	}
	stack[0] = ex.writeIfFits(stack[0], stack[1], uri, "get_uri")
}

func (ex *exchange) setURI(stack []uint64) {
	ex.inRequest("set_uri")
	uri := ex.readString(stack[0], stack[1], "set_uri")
	if uri == "" {
		uri = "/"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		trap("set_uri: %q is not a valid request URI", uri)
	}
	ex.r.URL.Path, ex.r.URL.RawPath, ex.r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	ex.r.RequestURI = u.RequestURI()
}

func (ex *exchange) getProtocolVersion(stack []uint64) {
	ex.inRequest("get_protocol_version")
	proto := ex.r.Proto
	if proto == "HTTP/2" {
		proto = "HTTP/2.0"
	}
	stack[0] = ex.writeIfFits(stack[0], stack[1], proto, "get_protocol_version")
}

func (ex *exchange) getSourceAddr(stack []uint64) {
	ex.inRequest("get_source_addr")
	stack[0] = ex.writeIfFits(stack[0], stack[1], ex.r.RemoteAddr, "get_source_addr")
}

// --- Headers ---

// header returns the header map of kind, or nil where there is none to
// read (trailers not enabled). forWrite traps instead of returning nil.
func (ex *exchange) header(kind uint32, forWrite bool) http.Header {
	switch kind {
	case kindRequest:
		return ex.r.Header
	case kindResponse:
		if ex.captured != nil {
			return ex.captured.header
		}
		return ex.w.Header()
	case kindRequestTrailers, kindResponseTrailers:
		if ex.features&featureTrailers == 0 {
			if forWrite {
				trap("trailers are used without enabling the trailers feature")
			}
			return nil
		}
		if kind == kindRequestTrailers {
			if ex.r.Trailer == nil && forWrite {
				ex.r.Trailer = make(http.Header)
			}
			return ex.r.Trailer
		}
		if ex.trailers == nil {
			ex.trailers = make(http.Header)
		}
		return ex.trailers
	}
	trap("header kind %d is not one of 0-3", kind)
	return nil
}

// isHost reports whether name is the Host header, which net/http keeps in
// Request.Host rather than in the header map.
func isHost(kind uint32, name string) bool {
	return kind == kindRequest && len(name) == 4 && strings.EqualFold(name, "host")
}

// writeList writes items as NUL-terminated strings if they fit and returns
// count<<32|len.
func (ex *exchange) writeList(buf, limit uint64, items []string, what string) uint64 {
	size := 0
	for _, s := range items {
		size += len(s) + 1
	}
	if size > 0 && size <= int(uint32(limit)) {
		dst := ex.read(buf, uint64(size), what)
		at := 0
		for _, s := range items {
			at += copy(dst[at:], s)
			dst[at] = 0
			at++
		}
	}
	return uint64(len(items))<<32 | uint64(size)
}

func (ex *exchange) getHeaderNames(stack []uint64) {
	ex.inRequest("get_header_names")
	kind := uint32(stack[0])
	hdr := ex.header(kind, false)
	names := make([]string, 0, len(hdr))
	for k := range hdr {
		names = append(names, strings.ToLower(k))
	}
	if kind == kindRequest {
		// net/http keeps these out of the header map; guests see them.
		if ex.r.Host != "" {
			names = append(names, "host")
		}
		if len(ex.r.TransferEncoding) > 0 {
			names = append(names, "transfer-encoding")
		}
	}
	stack[0] = ex.writeList(stack[1], stack[2], names, "get_header_names")
}

func (ex *exchange) getHeaderValues(stack []uint64) {
	ex.inRequest("get_header_values")
	kind := uint32(stack[0])
	name := ex.readString(stack[1], stack[2], "get_header_values")
	var values []string
	switch {
	case isHost(kind, name):
		values = []string{ex.r.Host}
	case kind == kindRequest && strings.EqualFold(name, "transfer-encoding"):
		values = ex.r.TransferEncoding
	default:
		values = ex.header(kind, false)[textproto.CanonicalMIMEHeaderKey(name)]
	}
	stack[0] = ex.writeList(stack[3], stack[4], values, "get_header_values")
}

// headerField reads and checks a header name and value from guest memory.
func (ex *exchange) headerField(stack []uint64, what string) (name, value string) {
	name = ex.readString(stack[1], stack[2], what)
	if name == "" || strings.IndexFunc(name, notTokenRune) >= 0 {
		trap("%s: %q is not a valid header name", what, name)
	}
	value = ex.readString(stack[3], stack[4], what)
	if strings.IndexFunc(value, controlRune) >= 0 {
		trap("%s: the value of %s holds a control byte", what, name)
	}
	return name, value
}

func (ex *exchange) setHeaderValue(stack []uint64) {
	ex.putHeader(stack, "set_header_value", http.Header.Set)
}

func (ex *exchange) addHeaderValue(stack []uint64) {
	ex.putHeader(stack, "add_header_value", http.Header.Add)
}

// putHeader is set_header_value and add_header_value: put is Set or Add.
// The request's Host has one value, so both replace it.
func (ex *exchange) putHeader(stack []uint64, what string, put func(http.Header, string, string)) {
	ex.inRequest(what)
	name, value := ex.headerField(stack, what)
	if isHost(uint32(stack[0]), name) {
		ex.r.Host = value
		return
	}
	hdr := ex.header(uint32(stack[0]), true)
	if strings.EqualFold(name, "Content-Length") {
		// One length, in digits: two would let a client and a proxy
		// disagree on where the response ends.
		if value == "" || strings.Trim(value, "0123456789") != "" {
			trap("%s: Content-Length %q is not a length", what, value)
		}
		if old := hdr.Get(name); old != "" && old != value {
			trap("%s: Content-Length %q conflicts with %q", what, value, old)
		}
		hdr.Set(name, value)
		return
	}
	put(hdr, name, value)
}

// controlRune reports a byte a header value may not hold: a control
// character other than tab.
func controlRune(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }

func (ex *exchange) removeHeader(stack []uint64) {
	ex.inRequest("remove_header")
	name := ex.readString(stack[1], stack[2], "remove_header")
	if isHost(uint32(stack[0]), name) {
		ex.r.Host = ""
		return
	}
	ex.header(uint32(stack[0]), true).Del(name)
}

// notTokenRune reports a rune that may not appear in an HTTP token.
func notTokenRune(r rune) bool {
	if r >= 0x7f || r <= ' ' {
		return true
	}
	return strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// --- Bodies ---

const eofFlag = 1 << 32

func (ex *exchange) readBody(stack []uint64) {
	ex.inRequest("read_body")
	kind, buf, limit := uint32(stack[0]), stack[1], stack[2]
	if uint32(limit) == 0 {
		trap("read_body: buf_limit is zero")
	}
	dst := ex.read(buf, limit, "read_body")
	switch kind {
	case kindRequest:
		stack[0] = ex.readRequestBody(dst)
	case kindResponse:
		stack[0] = ex.readResponseBody(dst)
	default:
		trap("read_body: body kind %d is not 0 or 1", kind)
	}
}

func (ex *exchange) readRequestBody(dst []byte) uint64 {
	if ex.bodyEOF {
		return eofFlag
	}
	body := ex.requestBody()
	for {
		n, err := body.Read(dst)
		if ex.features&featureBufferRequest != 0 {
			ex.readBuffered = append(ex.readBuffered, dst[:n]...)
		}
		switch {
		case err == io.EOF:
			ex.bodyEOF = true
			return eofFlag | uint64(n)
		case err != nil:
			if _, ok := err.(*http.MaxBytesError); ok {
				ex.tooLarge = true
			} else {
				ex.badBody = err
			}
			trap("read_body: %v", err)
		case n > 0:
			return uint64(n)
		}
	}
}

func (ex *exchange) readResponseBody(dst []byte) uint64 {
	c := ex.captured
	if c == nil {
		return eofFlag
	}
	n := copy(dst, c.body[ex.captureRead:])
	ex.captureRead += n
	if ex.captureRead == len(c.body) {
		return eofFlag | uint64(n)
	}
	return uint64(n)
}

func (ex *exchange) writeBody(stack []uint64) {
	ex.inRequest("write_body")
	kind := uint32(stack[0])
	p := ex.read(stack[1], stack[2], "write_body")
	switch kind {
	case kindRequest:
		if ex.afterNext {
			trap("write_body: the request body cannot change after the next handler ran")
		}
		ex.bodyReplaced = true
		ex.newBody = append(ex.newBody, p...)
	case kindResponse:
		ex.writeResponseBody(p)
	default:
		trap("write_body: body kind %d is not 0 or 1", kind)
	}
}

func (ex *exchange) writeResponseBody(p []byte) {
	max := ex.inst.h.cfg.MaxResponseBody
	ex.written += int64(len(p))
	if max >= 0 && ex.written > max {
		trap("write_body: the response body is over the limit of %d bytes", max)
	}
	if c := ex.captured; c != nil {
		if !c.replaced {
			c.replaced = true
			c.body = c.body[:0]
		}
		c.body = append(c.body, p...)
		return
	}
	ex.writeHeader()
	_, _ = ex.w.Write(p) // a client that hung up is not the guest's fault
}

// --- Status ---

func (ex *exchange) getStatusCode(stack []uint64) {
	ex.inRequest("get_status_code")
	status := ex.status
	if ex.captured != nil {
		status = orDefault(ex.captured.status, http.StatusOK)
	}
	stack[0] = uint64(status)
}

func (ex *exchange) setStatusCode(stack []uint64) {
	ex.inRequest("set_status_code")
	code := int(int32(stack[0]))
	if code < 200 || code > 999 {
		// Interim responses (1xx) and protocol switches (101) are the
		// server's to send, never a guest's final status.
		trap("set_status_code: %d is not a valid final status code", code)
	}
	if ex.captured != nil {
		ex.captured.status = code
		return
	}
	ex.status = code
}
