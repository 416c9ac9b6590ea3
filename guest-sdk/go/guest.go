// Package guest writes wasmcluster handlers in standard Go: an ordinary
// net/http handler, compiled to a WebAssembly reactor that speaks the
// http-wasm handler ABI.
//
//	package main
//
//	import (
//		"net/http"
//
//		guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
//	)
//
//	func init() {
//		guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
//			w.Write([]byte("Hello from wasmcluster: " + r.URL.Path + "\n"))
//		})
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o handler.wasm .
//
// Register the handler in init: a reactor runs package initialization
// once per instance, never main. One instance serves one request at a
// time and is reused, so package variables live across requests.
//
// A net/http handler costs a few microseconds a request in WebAssembly,
// mostly in building and ranging over http.Header maps. A handler
// registered with HandleExchange works on an Exchange instead — the
// request and response as the host holds them — and costs about what a
// handler in C does.
package guest

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unsafe"
)

// handler serves every request; nil answers 404.
var handler http.Handler

// abi is the host; a Wasm build sets it to the imported host module.
var abi hostABI

// Handle registers h as the handler for every request, in place of any
// registered before.
func Handle(h http.Handler) { handler, exchangeHandler = h, nil }

// HandleFunc registers f as the handler for every request, in place of
// any registered before.
func HandleFunc(f func(http.ResponseWriter, *http.Request)) { Handle(http.HandlerFunc(f)) }

// Config returns the configuration bytes the host was given for this
// handler (wasmcluster serve --config FILE), or nil.
func Config() []byte {
	b := field(abi.getConfig)
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// Log writes msg to the host's log at level (debug, info, warn or error).
func Log(level slog.Level, msg string) {
	l := abiLevel(level)
	if abi.logEnabled(l) {
		abi.log(l, msg)
	}
}

func abiLevel(level slog.Level) int32 {
	switch {
	case level < slog.LevelInfo:
		return -1
	case level < slog.LevelWarn:
		return 0
	case level < slog.LevelError:
		return 1
	}
	return 2
}

// Next passes the request on to the host's next handler (in wasmcluster
// serve, a 404; in an embedding Go program, the handler the guest wraps),
// as r now is: its method, URL, Host and headers. Response headers already
// set on w go out with the next handler's response. Call it instead of
// writing a response, as the last thing the handler does.
func Next(w http.ResponseWriter, r *http.Request) {
	rw, ok := w.(*responseWriter)
	if !ok {
		panic("guest.Next: w is not the ResponseWriter the guest was given")
	}
	rw.next = true
	rw.ex.forward(r)
	rw.sendHeader()
}

// The ABI's header and body kinds, and its trailers feature.
const (
	kindRequest          = 0
	kindResponse         = 1
	kindResponseTrailers = 3

	featureTrailers = 4
)

// hostABI is the http-wasm handler ABI as the SDK uses it; in a Wasm
// build it is the imported host module.
type hostABI interface {
	enableFeatures(features uint32) uint32
	getConfig(buf []byte) int
	logEnabled(level int32) bool
	log(level int32, msg string)
	getMethod(buf []byte) int
	setMethod(method string)
	getURI(buf []byte) int
	setURI(uri string)
	getSourceAddr(buf []byte) int
	// getRequest is wasmcluster's get_request: the request's method, URI,
	// protocol, source address, scheme and header fields in one call.
	getRequest(buf []byte) int
	getHeaderValues(kind uint32, name string, buf []byte) int
	setHeaderValue(kind uint32, name, value string)
	addHeaderValue(kind uint32, name, value string)
	removeHeader(kind uint32, name string)
	readBody(kind uint32, buf []byte) (n int, eof bool)
	writeBody(kind uint32, p []byte)
	setStatusCode(code int)
}

// scratch is reused for every field read from the host; an instance
// serves one request at a time.
var scratch = make([]byte, 2048)

// field calls get until the field fits in scratch, growing it, and
// returns the field; it is valid until the next call.
func field(get func([]byte) int) []byte {
	n := get(scratch)
	if n > len(scratch) {
		scratch = make([]byte, n)
		n = get(scratch)
	}
	return scratch[:n]
}

// splitList appends the strings of a NUL-terminated list to dst,
// interning them.
func splitList(dst []string, b []byte) []string { return splitListWith(dst, b, intern) }

// splitListWith is splitList with str making each string.
func splitListWith(dst []string, b []byte, str func([]byte) string) []string {
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		dst = append(dst, str(b[:i]))
		b = b[min(i+1, len(b)):]
	}
	return dst
}

// fresh is a string of b, not interned: for values that never repeat.
func fresh(b []byte) string { return string(b) }

// interned holds short strings seen before: requests repeat their method,
// protocol, header names and many header values, and a Go guest pays
// dearly for every allocation.
var interned = map[string]string{}

// Bounds of the intern table.
const (
	maxInterned      = 64
	maxInternedCount = 1024
)

func intern(b []byte) string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInterned && len(interned) < maxInternedCount {
		interned[s] = s
	}
	return s
}

// canonical maps header names as the host sends them to Go's canonical
// form, without allocating for names seen before.
var canonical = map[string]string{}

func canonicalKey(name string) string {
	if k, ok := canonical[name]; ok {
		return k
	}
	k := http.CanonicalHeaderKey(name)
	if len(canonical) < maxInternedCount {
		canonical[name] = k
	}
	return k
}

// reused returns s when b holds the same bytes — no allocation — and a
// new string of b otherwise. A request mostly repeats the previous one's
// fields: the same client on the same connection, asking for the same
// kind of thing.
func reused(s string, b []byte) string {
	if string(b) == s {
		return s
	}
	return string(b)
}

// exchange is one request as the guest sees it, and what is kept of the
// previous one for reuse.
type exchange struct {
	method string // as the host has them, to forward only changes
	uri    string
	host   string
	proto  string
	addr   string
	url    url.URL // uri parsed, before the handler could change it

	protoMajor, protoMinor int
	headers                headerFields
}

// headerFields are the request's header fields as the host sent them.
// Each list is kept as raw bytes next to its parsed form, so a request
// repeating the previous one's names and values costs no parsing and no
// allocation.
type headerFields struct {
	namesRaw []byte
	names    []string // as the host has them (lowercase)
	keys     []string // canonical, in the same order
	valsRaw  [][]byte // per name
	vals     [][]string
	values   []string // the current request's values, backing its Header

	host, contentLength, transferEncoding int // indexes in names, or -1
	// requestID is the index of X-Request-Id, or -1: the host gives every
	// request an id of its own, which interning would only fill the
	// table with.
	requestID int
}

// read refreshes f from the request's list of names and, from values,
// each name's list of values in turn, and fills h, which must be empty.
func (f *headerFields) read(h http.Header, names []byte, values *requestParts) {
	if !bytes.Equal(names, f.namesRaw) || f.namesRaw == nil {
		f.parseNames(names)
	}
	f.values = f.values[:0]
	for i := range f.names {
		raw := values.next()
		if !bytes.Equal(raw, f.valsRaw[i]) || f.valsRaw[i] == nil {
			f.valsRaw[i] = append(f.valsRaw[i][:0], raw...)
			if i == f.requestID {
				f.vals[i] = splitListWith(f.vals[i][:0], raw, fresh)
			} else {
				f.vals[i] = splitList(f.vals[i][:0], raw)
			}
		}
		// The handler gets copies it may change: the cache stays intact.
		at := len(f.values)
		f.values = append(f.values, f.vals[i]...)
		if i != f.host {
			h[f.keys[i]] = f.values[at:len(f.values):len(f.values)]
		}
	}
}

func (f *headerFields) parseNames(raw []byte) {
	f.namesRaw = append(f.namesRaw[:0], raw...)
	f.names = splitList(f.names[:0], raw)
	f.keys = f.keys[:0]
	f.host, f.contentLength, f.transferEncoding, f.requestID = -1, -1, -1, -1
	for i, name := range f.names {
		key := canonicalKey(name)
		f.keys = append(f.keys, key)
		switch key {
		case "Host":
			f.host = i
		case "Content-Length":
			f.contentLength = i
		case "Transfer-Encoding":
			f.transferEncoding = i
		case "X-Request-Id":
			f.requestID = i
		}
	}
	f.valsRaw = append(f.valsRaw[:0], make([][]byte, len(f.names))...)
	f.vals = append(f.vals[:0], make([][]string, len(f.names))...)
}

// value returns the first value of the field at index i, or "".
func (f *headerFields) value(i int) string {
	if i < 0 || len(f.vals[i]) == 0 {
		return ""
	}
	return f.vals[i][0]
}

// state is reused for every request: an instance serves one request at a
// time. A handler must not keep the request or the writer once it returns.
var state struct {
	ex   exchange
	req  http.Request
	url  url.URL
	body body
	w    responseWriter
	x    Exchange
}

// serve runs the registered handler for the request the host holds and
// returns the ABI's ctx_next result.
func serve() uint64 {
	if exchangeHandler != nil {
		return serveExchange()
	}
	ex := &state.ex
	r := ex.request()
	w := &state.w
	*w = responseWriter{ex: ex, header: reuse(w.header)}
	h := handler
	if h == nil {
		h = http.NotFoundHandler()
	}
	h.ServeHTTP(w, r)
	if w.next {
		return 1
	}
	w.finish()
	return 0
}

// reuse empties h for another request, or makes one.
func reuse(h http.Header) http.Header {
	if h == nil {
		return make(http.Header)
	}
	clear(h)
	return h
}

// request builds the *http.Request from the host's fields, asked for in
// one call: a Go guest pays more for each call into the host than for
// most of what it does with the answer.
func (ex *exchange) request() *http.Request {
	p := requestParts(field(abi.getRequest))
	ex.noteMethod(p.next())
	if b := p.next(); string(b) != ex.uri || ex.uri == "" {
		ex.uri = string(b)
		if err := parseURI(&ex.url, ex.uri); err != nil {
			ex.url = url.URL{Path: ex.uri}
		}
	}
	if b := p.next(); string(b) != ex.proto {
		ex.proto = intern(b)
		ex.protoMajor, ex.protoMinor, _ = http.ParseHTTPVersion(ex.proto)
	}
	ex.addr = reused(ex.addr, p.next())
	https := string(p.next()) == "https"
	state.url = ex.url
	r := &state.req
	header := reuse(r.Header)
	*r = emptyRequest
	r.Method, r.URL, r.RequestURI, r.Proto = ex.method, &state.url, ex.uri, ex.proto
	r.Header, r.RemoteAddr = header, ex.addr
	r.ProtoMajor, r.ProtoMinor = ex.protoMajor, ex.protoMinor
	f := &ex.headers
	f.read(r.Header, p.next(), &p)
	if f.host >= 0 {
		ex.host = strings.Join(f.vals[f.host], "")
	} else {
		ex.host = ""
	}
	r.Host = ex.host
	switch cl := f.value(f.contentLength); {
	case cl != "":
		r.ContentLength, _ = strconv.ParseInt(cl, 10, 64)
	case f.value(f.transferEncoding) != "":
		r.ContentLength = -1 // chunked: length unknown
	}
	r.Body = http.NoBody
	if r.ContentLength != 0 {
		state.body = body{kind: kindRequest}
		r.Body = &state.body
	}
	return withRequestInfo(r, https)
}

// requestParts is get_request's answer: parts of a little-endian u32
// length and its bytes.
type requestParts []byte

// next returns the next part, or nil past the end.
func (p *requestParts) next() []byte {
	b := *p
	if len(b) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > len(b)-4 {
		*p = nil
		return nil
	}
	*p = b[4+n:]
	return b[4 : 4+n]
}

// readMethod refreshes ex.method from the host and returns it.
func (ex *exchange) readMethod() string { return ex.noteMethod(field(abi.getMethod)) }

// noteMethod sets ex.method to b, without allocating when it is unchanged,
// and returns it.
func (ex *exchange) noteMethod(b []byte) string {
	if string(b) != ex.method {
		ex.method = intern(b)
	}
	return ex.method
}

// parseURI sets u from a request URI, cheaply for the common plain path.
func parseURI(u *url.URL, uri string) error {
	path, query, _ := strings.Cut(uri, "?")
	if strings.HasPrefix(path, "/") && !strings.ContainsAny(path, "%#") {
		*u = url.URL{Path: path, RawQuery: query}
		return nil
	}
	parsed, err := url.ParseRequestURI(uri)
	if err != nil {
		return err
	}
	*u = *parsed
	return nil
}

// forward hands the request as the handler left it back to the host, for
// the next handler.
func (ex *exchange) forward(r *http.Request) {
	if r.Method != ex.method {
		abi.setMethod(r.Method)
	}
	if uri := r.URL.RequestURI(); uri != ex.uri {
		abi.setURI(uri)
	}
	f := &ex.headers
	for i, name := range f.names {
		if i == f.host {
			continue
		}
		if _, ok := r.Header[f.keys[i]]; !ok {
			abi.removeHeader(kindRequest, name)
		}
	}
	for name, values := range r.Header {
		setHeaderValues(kindRequest, name, values)
	}
	if r.Host != "" && r.Host != ex.host {
		abi.setHeaderValue(kindRequest, "Host", r.Host)
	}
}

// body reads a message body from the host in chunks.
type body struct {
	kind uint32
	eof  bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, eof := abi.readBody(b.kind, p)
	if eof {
		b.eof = true
		if n == 0 {
			return 0, io.EOF
		}
	}
	return n, nil
}

func (b *body) Close() error { return nil }

// responseWriter sends the response to the host as the handler writes it:
// status and headers with the first write, then the body in the chunks
// the handler writes.
type responseWriter struct {
	ex          *exchange
	header      http.Header
	wroteHeader bool
	next        bool
	declared    map[string]bool // trailers the Trailer header announced
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader || w.next {
		return
	}
	w.wroteHeader = true
	abi.setStatusCode(code)
	w.sendHeader()
}

// sendHeader sends w's response headers, leaving out trailers, and
// enables trailers first if the Trailer header announces some.
func (w *responseWriter) sendHeader() {
	w.declared = declaredTrailers(w.header["Trailer"])
	if w.declared != nil {
		abi.enableFeatures(featureTrailers) // before the header goes out
	}
	for name, values := range w.header {
		if strings.HasPrefix(name, http.TrailerPrefix) || name == "Trailer" || w.declared[name] {
			continue
		}
		setHeaderValues(kindResponse, name, values)
	}
}

// setHeaderValues sets the header name of kind to values: the first
// replaces what the host has, the rest are added.
func setHeaderValues(kind uint32, name string, values []string) {
	for i, v := range values {
		if i == 0 {
			abi.setHeaderValue(kind, name, v)
		} else {
			abi.addHeaderValue(kind, name, v)
		}
	}
}

// WriteString writes s without copying it first, which io.WriteString
// and fmt.Fprint use.
func (w *responseWriter) WriteString(s string) (int, error) {
	return w.Write(stringBytes(s))
}

// stringBytes returns the bytes of s without copying them; they must only
// be read.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.next {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.wroteHeader {
		if _, ok := w.header["Content-Type"]; !ok && len(p) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if len(p) > 0 {
		abi.writeBody(kindResponse, p)
	}
	return len(p), nil
}

// finish sends what the handler left unsent: the header of an empty
// response, and trailers — keys declared in the Trailer header or set
// with http.TrailerPrefix, which a handler adds once the header is sent.
func (w *responseWriter) finish() {
	w.WriteHeader(http.StatusOK)
	var trailers [][2]string
	for name := range w.declared {
		for _, v := range w.header[name] {
			trailers = append(trailers, [2]string{name, v})
		}
	}
	for name, values := range w.header {
		if after, ok := strings.CutPrefix(name, http.TrailerPrefix); ok {
			for _, v := range values {
				trailers = append(trailers, [2]string{after, v})
			}
		}
	}
	if len(trailers) == 0 || abi.enableFeatures(featureTrailers)&featureTrailers == 0 {
		return
	}
	for _, kv := range trailers {
		abi.addHeaderValue(kindResponseTrailers, kv[0], kv[1])
	}
}

// declaredTrailers returns the names the Trailer header values announce,
// or nil.
func declaredTrailers(values []string) map[string]bool {
	var names map[string]bool
	for _, declared := range values {
		for _, name := range strings.Split(declared, ",") {
			if names == nil {
				names = make(map[string]bool)
			}
			names[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	return names
}
