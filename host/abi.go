package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
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

// requestUnchanged traps when the guest changes the request after the next
// handler, which has already seen it, ran.
func (ex *exchange) requestUnchanged(fn string) {
	if ex.afterNext {
		trap("%s: the request cannot change after the next handler ran", fn)
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
	ex.requestUnchanged("set_method")
	m := ex.readString(stack[0], stack[1], "set_method")
	if !isToken(m) {
		trap("set_method: %q is not a valid method", m)
	}
	ex.r.Method = m
}

func (ex *exchange) getURI(stack []uint64) {
	ex.inRequest("get_uri")
	// The URL as the embedding app handed the request on, so a rewrite
	// such as http.StripPrefix shows; RequestURI is what the client sent.
	stack[0] = ex.writeIfFits(stack[0], stack[1], requestURI(ex.r), "get_uri")
}

// requestURI is r.URL.RequestURI(). When the URL still says what the
// client sent, that is r.RequestURI as it is, and no string is built.
func requestURI(r *http.Request) string {
	u, sent := r.URL, r.RequestURI
	if p := u.EscapedPath(); u.Opaque == "" && p != "" && strings.HasPrefix(sent, p) {
		rest := sent[len(p):]
		if u.ForceQuery || u.RawQuery != "" {
			if len(rest) == 1+len(u.RawQuery) && rest[0] == '?' && rest[1:] == u.RawQuery {
				return sent
			}
		} else if rest == "" {
			return sent
		}
	}
	return u.RequestURI()
}

func (ex *exchange) setURI(stack []uint64) {
	ex.inRequest("set_uri")
	ex.requestUnchanged("set_uri")
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
	stack[0] = ex.writeIfFits(stack[0], stack[1], protocolVersion(ex.r), "get_protocol_version")
}

// protocolVersion is r's protocol as the ABI spells it.
func protocolVersion(r *http.Request) string {
	if r.Proto == "HTTP/2" {
		return "HTTP/2.0"
	}
	return r.Proto
}

func (ex *exchange) getSourceAddr(stack []uint64) {
	ex.inRequest("get_source_addr")
	stack[0] = ex.writeIfFits(stack[0], stack[1], ex.r.RemoteAddr, "get_source_addr")
}

// --- Headers ---

// header returns the header map of kind and the key of name in it.
// Response trailers share the response's map under http.TrailerPrefix, as
// net/http sends them. Trailers read without the trailers feature, as other
// hosts allow; forWrite traps for trailers without it, and for a change to
// the request after the next handler ran.
func (ex *exchange) header(kind uint32, name string, forWrite bool) (http.Header, string) {
	key := textproto.CanonicalMIMEHeaderKey(name)
	if forWrite && (kind == kindRequest || kind == kindRequestTrailers) {
		ex.requestUnchanged("header")
	}
	switch kind {
	case kindRequest:
		return ex.r.Header, key
	case kindResponse:
		return ex.w.Header(), key
	case kindRequestTrailers, kindResponseTrailers:
		if forWrite && ex.features&featureTrailers == 0 {
			trap("trailers are used without enabling the trailers feature")
		}
		if kind == kindResponseTrailers {
			return ex.w.Header(), http.TrailerPrefix + key
		}
		if ex.r.Trailer == nil && forWrite {
			ex.r.Trailer = make(http.Header)
		}
		return ex.r.Trailer, key
	}
	trap("header kind %d is not one of 0-3", kind)
	return nil, ""
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
	stack[0] = ex.writeList(stack[1], stack[2], ex.headerNames(uint32(stack[0])), "get_header_names")
}

// headerNames lists the fields of kind: lowercase, sorted.
func (ex *exchange) headerNames(kind uint32) []string {
	hdr, _ := ex.header(kind, "", false)
	names := make([]string, 0, len(hdr))
	for k, vs := range hdr {
		trailer, isTrailer := strings.CutPrefix(k, http.TrailerPrefix)
		switch {
		case kind == kindResponseTrailers:
			if isTrailer && len(vs) > 0 {
				names = append(names, strings.ToLower(trailer))
			}
		case !isTrailer:
			names = append(names, strings.ToLower(k))
		}
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
	// Sorted, as other hosts list them: guests that print headers print
	// them the same way every time.
	slices.Sort(names)
	return names
}

func (ex *exchange) getHeaderValues(stack []uint64) {
	ex.inRequest("get_header_values")
	name := ex.readString(stack[1], stack[2], "get_header_values")
	stack[0] = ex.writeList(stack[3], stack[4], ex.headerValues(uint32(stack[0]), name), "get_header_values")
}

// headerValues lists the values of the field name of kind.
func (ex *exchange) headerValues(kind uint32, name string) []string {
	switch {
	case isHost(kind, name):
		return []string{ex.r.Host}
	case kind == kindRequest && strings.EqualFold(name, "transfer-encoding"):
		return ex.r.TransferEncoding
	}
	hdr, key := ex.header(kind, name, false)
	return hdr[key]
}

// headerField reads and checks a header name and value from guest memory.
func (ex *exchange) headerField(stack []uint64, what string) (name, value string) {
	name = ex.readString(stack[1], stack[2], what)
	if !isToken(name) {
		trap("%s: %q is not a valid header name", what, name)
	}
	value = ex.readString(stack[3], stack[4], what)
	if hasControlByte(value) {
		trap("%s: the value of %s holds a control byte", what, name)
	}
	return name, value
}

func (ex *exchange) setHeaderValue(stack []uint64) {
	ex.putHeader(stack, "set_header_value", false)
}

func (ex *exchange) addHeaderValue(stack []uint64) {
	ex.putHeader(stack, "add_header_value", true)
}

// putHeader is set_header_value and add_header_value. The request's Host
// has one value, so both replace it.
func (ex *exchange) putHeader(stack []uint64, what string, add bool) {
	ex.inRequest(what)
	kind := uint32(stack[0])
	name, value := ex.headerField(stack, what)
	hdr, key := ex.header(kind, name, true)
	switch {
	case isHost(kind, name):
		ex.r.Host = value
	case key == "Content-Length":
		// One length, in digits: two would let a client and a proxy
		// disagree on where the response ends.
		if value == "" || strings.Trim(value, "0123456789") != "" {
			trap("%s: Content-Length %q is not a length", what, value)
		}
		if old := hdr.Get(key); old != "" && old != value {
			trap("%s: Content-Length %q conflicts with %q", what, value, old)
		}
		hdr[key] = []string{value}
	case add:
		hdr[key] = append(hdr[key], value)
	default:
		hdr[key] = []string{value}
	}
}

// hasControlByte reports whether s holds a byte a header value may not: a
// control character other than tab.
func hasControlByte(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

func (ex *exchange) removeHeader(stack []uint64) {
	ex.inRequest("remove_header")
	kind := uint32(stack[0])
	name := ex.readString(stack[1], stack[2], "remove_header")
	hdr, key := ex.header(kind, name, true)
	if isHost(kind, name) {
		ex.r.Host = ""
		return
	}
	delete(hdr, key)
}

// isToken reports whether s is an HTTP token (RFC 9110): a method or a
// header name.
func isToken(s string) bool {
	for i := range len(s) {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return s != ""
}

// tokenBytes marks the bytes a token may hold: visible ASCII but the
// delimiters.
var tokenBytes = func() (t [256]bool) {
	for c := byte('!'); c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
	}
	return t
}()

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
	// Fill dst until it is full or the body ends, as guests that read
	// once expect: a short read would look like a short body.
	body := ex.requestBody()
	n := 0
	for n < len(dst) {
		m, err := body.Read(dst[n:])
		if ex.features&featureBufferRequest != 0 {
			ex.readBuffered = append(ex.readBuffered, dst[n:n+m]...)
		}
		n += m
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
		}
	}
	return uint64(n)
}

func (ex *exchange) readResponseBody(dst []byte) uint64 {
	b := &ex.buffer
	if !b.nextRan {
		return eofFlag
	}
	n := copy(dst, b.body[b.read:])
	b.read += n
	if b.read == len(b.body) {
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
		ex.requestUnchanged("write_body")
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
	if ex.buffering() {
		b := &ex.buffer
		if b.nextRan && !b.replaced {
			b.replaced = true
			b.body = b.body[:0]
		}
		b.body = append(b.body, p...)
		return
	}
	ex.writeHeader()
	_, _ = ex.w.Write(p) // a client that hung up is not the guest's fault
}

// --- Status ---

func (ex *exchange) getStatusCode(stack []uint64) {
	ex.inRequest("get_status_code")
	stack[0] = uint64(ex.status)
}

func (ex *exchange) setStatusCode(stack []uint64) {
	ex.inRequest("set_status_code")
	code := int(int32(stack[0]))
	if code < 200 || code > 999 {
		// Interim responses (1xx) and protocol switches (101) are the
		// server's to send, never a guest's final status.
		trap("set_status_code: %d is not a valid final status code", code)
	}
	ex.status = code
}
