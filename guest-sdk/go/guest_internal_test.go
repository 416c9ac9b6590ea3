package guest

import (
	"encoding/binary"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHost plays the host side of the ABI in memory, so the adapter is
// tested without a Wasm build.
type fakeHost struct {
	method, uri string
	reqHeader   http.Header // names as the host sends them (lowercase)
	body        *strings.Reader

	features   uint32
	status     int
	resHeader  http.Header
	trailers   http.Header
	written    strings.Builder
	newURI     string
	newMethod  string
	removed    []string
	logged     []string
	configData string
	https      bool
}

func (f *fakeHost) enableFeatures(x uint32) uint32 { f.features |= x; return f.features }
func (f *fakeHost) getConfig(b []byte) int         { return copy(b, f.configData) }
func (f *fakeHost) logEnabled(int32) bool          { return true }
func (f *fakeHost) log(_ int32, m string)          { f.logged = append(f.logged, m) }
func (f *fakeHost) getMethod(b []byte) int         { return put(b, f.method) }
func (f *fakeHost) setMethod(m string)             { f.newMethod = m }
func (f *fakeHost) getURI(b []byte) int            { return put(b, f.uri) }
func (f *fakeHost) setURI(u string)                { f.newURI = u }
func (f *fakeHost) getProtocolVersion(b []byte) int {
	return put(b, "HTTP/1.1")
}
func (f *fakeHost) getSourceAddr(b []byte) int { return put(b, "10.0.0.1:5000") }
func (f *fakeHost) getHeaderValues(_ uint32, name string, b []byte) int {
	return putList(b, f.reqHeader[name])
}

// getRequest answers the request's fields, each a part of a u32 length and
// its bytes, as wasmcluster's get_request does.
func (f *fakeHost) getRequest(b []byte) int {
	var out []byte
	part := func(get func([]byte) int) {
		buf := make([]byte, 1<<16)
		n := get(buf)
		out = append(binary.LittleEndian.AppendUint32(out, uint32(n)), buf[:n]...)
	}
	part(f.getMethod)
	part(f.getURI)
	part(f.getProtocolVersion)
	part(f.getSourceAddr)
	part(func(b []byte) int { return put(b, f.scheme()) })
	names := slices.Sorted(maps.Keys(f.reqHeader))
	part(func(b []byte) int { return putList(b, names) })
	for _, name := range names {
		part(func(b []byte) int { return f.getHeaderValues(kindRequest, name, b) })
	}
	if len(out) <= len(b) {
		copy(b, out)
	}
	return len(out)
}

func (f *fakeHost) scheme() string {
	if f.https {
		return "https"
	}
	return "http"
}
func (f *fakeHost) setHeaderValue(kind uint32, name, value string) { f.header(kind).Set(name, value) }
func (f *fakeHost) addHeaderValue(kind uint32, name, value string) { f.header(kind).Add(name, value) }
func (f *fakeHost) removeHeader(_ uint32, name string)             { f.removed = append(f.removed, name) }
func (f *fakeHost) readBody(_ uint32, b []byte) (int, bool) {
	n, _ := f.body.Read(b)
	return n, f.body.Len() == 0
}
func (f *fakeHost) writeBody(_ uint32, p []byte) { f.written.Write(p) }
func (f *fakeHost) setStatusCode(code int)       { f.status = code }

func (f *fakeHost) header(kind uint32) http.Header {
	if kind == kindResponseTrailers {
		return f.trailers
	}
	if kind == kindRequest {
		return f.reqHeader
	}
	return f.resHeader
}

// put follows the buf/buf_limit convention.
func put(b []byte, s string) int {
	if len(s) <= len(b) {
		copy(b, s)
	}
	return len(s)
}

func putList(b []byte, items []string) int {
	var s strings.Builder
	for _, it := range items {
		s.WriteString(it + "\x00")
	}
	return put(b, s.String())
}

// withHost serves one request from f with h.
func withHost(t *testing.T, f *fakeHost, h http.HandlerFunc) uint64 {
	return serveWith(t, f, func() { Handle(h) })
}

// serveWith serves one request from f with the handler register
// registers.
func serveWith(t *testing.T, f *fakeHost, register func()) uint64 {
	t.Helper()
	f.resHeader, f.trailers = http.Header{}, http.Header{}
	if f.body == nil {
		f.body = strings.NewReader("")
	}
	abi = f
	register()
	t.Cleanup(func() { abi, handler, exchangeHandler = nil, nil, nil })
	return serve()
}

func TestServeBuildsTheRequest(t *testing.T) {
	long := strings.Repeat("v", 5000) // longer than the scratch buffer
	f := &fakeHost{
		method: "POST",
		uri:    "/a/b%20c?q=1",
		reqHeader: http.Header{
			"host":           {"example.com"},
			"x-long":         {long},
			"x-multi":        {"1", "2"},
			"content-length": {"5"},
		},
		body: strings.NewReader("hello"),
	}
	var got *http.Request
	var body string
	next := withHost(t, f, func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	})
	assert.Equal(t, uint64(0), next)
	require.NotNil(t, got)
	assert.Equal(t, "POST", got.Method)
	assert.Equal(t, "/a/b c", got.URL.Path)
	assert.Equal(t, "q=1", got.URL.RawQuery)
	assert.Equal(t, "example.com", got.Host)
	assert.Equal(t, long, got.Header.Get("X-Long"))
	assert.Equal(t, []string{"1", "2"}, got.Header.Values("X-Multi"))
	assert.Equal(t, int64(5), got.ContentLength)
	assert.Equal(t, "10.0.0.1:5000", got.RemoteAddr)
	assert.Equal(t, "hello", body)
	assert.Equal(t, http.StatusOK, f.status, "an empty response is a 200")
	assert.Nil(t, got.TLS, "over plain HTTP")

	f.https = true
	withHost(t, f, func(_ http.ResponseWriter, r *http.Request) { got = r })
	assert.NotNil(t, got.TLS, "over HTTPS, as net/http gives")
}

// TestRepeatedFieldsAreReusedNeverStale serves requests that repeat and
// change the previous one's fields, with a handler that changes its
// request in place.
func TestRepeatedFieldsAreReusedNeverStale(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/a?x=1", reqHeader: http.Header{"x-a": {"1"}}}
	var seen []string
	h := func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, strings.Join([]string{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-A"), r.Header.Get("X-B")}, " "))
		if v := r.Header["X-A"]; len(v) > 0 {
			v[0] = "changed by the handler"
		}
		r.URL.Path = "/changed"
	}
	withHost(t, f, h)
	withHost(t, f, h)
	f.reqHeader["x-a"] = []string{"2"}
	withHost(t, f, h)
	f.reqHeader["x-b"], f.method, f.uri = []string{"b"}, "PUT", "/b"
	withHost(t, f, h)
	delete(f.reqHeader, "x-a")
	withHost(t, f, h)
	assert.Equal(t, []string{"GET /a x=1 1 ", "GET /a x=1 1 ", "GET /a x=1 2 ", "PUT /b  2 b", "PUT /b   b"}, seen)
}

func TestContentLengthWithoutHeader(t *testing.T) {
	for _, tc := range []struct {
		header http.Header
		want   int64
	}{
		{http.Header{}, 0},
		{http.Header{"transfer-encoding": {"chunked"}}, -1},
	} {
		f := &fakeHost{method: "GET", uri: "/", reqHeader: tc.header}
		var got int64 = 99
		withHost(t, f, func(w http.ResponseWriter, r *http.Request) { got = r.ContentLength })
		assert.Equal(t, tc.want, got)
	}
}

func TestResponseWriter(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{}}
	withHost(t, f, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-One", "1")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("short "))
		w.Write([]byte("and stout"))
		io.WriteString(w, "!")
		w.Header().Set("X-Sum", "42")
	})
	assert.Equal(t, http.StatusTeapot, f.status)
	assert.Equal(t, "1", f.resHeader.Get("X-One"))
	assert.Empty(t, f.resHeader.Get("Trailer"), "declared trailers are not headers")
	assert.Equal(t, "short and stout!", f.written.String())
	assert.Equal(t, "42", f.trailers.Get("X-Sum"))
	assert.NotZero(t, f.features&featureTrailers, "trailers enabled before the header went out")
}

func TestTrailerSetAfterTheBody(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{}}
	withHost(t, f, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Gone", "sent with the header")
		w.Write([]byte("body"))
		w.Header().Del("X-Gone") // as many keys as when the header went out
		w.Header().Set(http.TrailerPrefix+"X-Checksum", "abc")
	})
	assert.Equal(t, "abc", f.trailers.Get("X-Checksum"))
	assert.Empty(t, f.resHeader.Get("X-Checksum"))
}

func TestContentTypeIsSniffed(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{}}
	withHost(t, f, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>x</body></html>"))
	})
	assert.Equal(t, "text/html; charset=utf-8", f.resHeader.Get("Content-Type"))
}

func TestNextForwardsTheChangedRequest(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/old", reqHeader: http.Header{"x-gone": {"1"}, "x-kept": {"k"}, "host": {"a.example"}}}
	next := withHost(t, f, func(w http.ResponseWriter, r *http.Request) {
		r.Host = "b.example"
		r.Method = "PUT"
		r.URL.Path = "/new"
		r.Header.Del("X-Gone")
		r.Header.Set("X-Added", "yes")
		w.Header().Set("X-Guest", "1")
		Next(w, r)
	})
	assert.Equal(t, uint64(1), next)
	assert.Equal(t, "PUT", f.newMethod)
	assert.Equal(t, "/new", f.newURI)
	assert.Equal(t, []string{"x-gone"}, f.removed)
	assert.Equal(t, "yes", f.reqHeader.Get("X-Added"))
	assert.Equal(t, "b.example", f.reqHeader.Get("Host"), "the changed Host is forwarded")
	assert.Equal(t, "1", f.resHeader.Get("X-Guest"))
}

func TestConfigAndLog(t *testing.T) {
	f := &fakeHost{configData: "a=1"}
	abi = f
	t.Cleanup(func() { abi = nil })
	assert.Equal(t, []byte("a=1"), Config())
	abi = &fakeHost{}
	assert.Nil(t, Config(), "no configuration: nil, as documented")
	abi = f
	Log(0, "hi")
	assert.Equal(t, []string{"hi"}, f.logged)
}

func TestInternedStringsAreReused(t *testing.T) {
	a := intern([]byte("Content-Type"))
	b := intern([]byte("Content-Type"))
	assert.Same(t, unsafeData(a), unsafeData(b))
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

func TestRequestIDsAreNotInterned(t *testing.T) {
	// Every request has an id of its own: interned, they would fill the
	// table, after which nothing else could be.
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{"x-request-id": {"id-1"}}}
	var seen []string
	h := func(_ http.ResponseWriter, r *http.Request) { seen = append(seen, r.Header.Get("X-Request-Id")) }
	withHost(t, f, h)
	f.reqHeader["x-request-id"] = []string{"id-2"}
	withHost(t, f, h)
	assert.Equal(t, []string{"id-1", "id-2"}, seen)
	for _, id := range []string{"id-1", "id-2"} {
		_, ok := interned[id]
		assert.False(t, ok, id)
	}
}

func withExchange(t *testing.T, f *fakeHost, h func(*Exchange)) uint64 {
	return serveWith(t, f, func() { HandleExchange(h) })
}

func TestExchange(t *testing.T) {
	long := strings.Repeat("v", 5000) // longer than the scratch buffer
	f := &fakeHost{
		method:    "PUT",
		uri:       "/a/b%20c?q=1",
		reqHeader: http.Header{"x-long": {long}, "x-multi": {"1", "2"}, "x-empty": {""}},
		body:      strings.NewReader("request body"),
	}
	type seen struct {
		method, uri, path, long, multi string
		hasEmpty, hasMissing           bool
	}
	var got seen
	next := withExchange(t, f, func(x *Exchange) {
		got.method = x.Method()
		got.uri = string(x.AppendURI([]byte("uri=")))
		got.path = string(x.AppendPath(nil))
		b, _ := x.AppendHeader(nil, "x-long") // the fake host matches names exactly
		got.long = string(b)
		b, _ = x.AppendHeader(nil, "x-multi")
		got.multi = string(b)
		_, got.hasEmpty = x.AppendHeader(nil, "x-empty")
		_, got.hasMissing = x.AppendHeader(nil, "x-missing")
		x.SetStatus(http.StatusAccepted)
		x.SetHeader("X-One", "1")
		x.AddHeader("X-Two", "a")
		x.AddHeader("X-Two", "b")
		x.WriteString("echo: ")
		n, err := io.Copy(x, x.Body())
		assert.NoError(t, err)
		assert.Equal(t, int64(len("request body")), n)
	})
	assert.Equal(t, uint64(0), next)
	assert.Equal(t, seen{"PUT", "uri=/a/b%20c?q=1", "/a/b%20c", long, "1", true, false}, got)
	assert.Equal(t, http.StatusAccepted, f.status)
	assert.Equal(t, "1", f.resHeader.Get("X-One"))
	assert.Equal(t, []string{"a", "b"}, f.resHeader.Values("X-Two"))
	assert.Equal(t, "echo: request body", f.written.String())
}

func TestExchangeNext(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{}}
	var addr []byte
	next := withExchange(t, f, func(x *Exchange) {
		addr = x.AppendSourceAddr(addr)
		x.SetRequestHeader("X-User", "alice")
		x.SetHeader("X-Guest", "1")
		x.Next()
		_, err := x.WriteString("not sent")
		assert.ErrorIs(t, err, http.ErrBodyNotAllowed)
	})
	assert.Equal(t, uint64(1), next)
	assert.Equal(t, "10.0.0.1:5000", string(addr))
	assert.Equal(t, "alice", f.reqHeader.Get("X-User"), "the request goes on with the header")
	assert.Equal(t, "1", f.resHeader.Get("X-Guest"))
	assert.Empty(t, f.written.String())
}

func TestTheLastRegisteredHandlerServes(t *testing.T) {
	f := &fakeHost{method: "GET", uri: "/", reqHeader: http.Header{}}
	withExchange(t, f, func(x *Exchange) { x.WriteString("exchange") })
	HandleFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "net/http") })
	serve()
	assert.Equal(t, "exchangenet/http", f.written.String())
}

// quietHost is a host that keeps nothing, so that allocations counted
// around it are the SDK's own.
type quietHost struct{ fakeHost }

func (*quietHost) setHeaderValue(uint32, string, string) {}
func (*quietHost) writeBody(uint32, []byte)              {}

func TestExchangeAllocatesNothing(t *testing.T) {
	f := &quietHost{fakeHost{method: "GET", uri: "/hello?x=1", body: strings.NewReader("")}}
	abi = f
	buf := make([]byte, 0, 64)
	HandleExchange(func(x *Exchange) {
		x.SetHeader("Content-Type", "text/plain")
		if x.Method() == "GET" {
			x.Write(append(x.AppendPath(buf), '\n'))
		}
	})
	t.Cleanup(func() { abi, exchangeHandler = nil, nil })
	serve() // the first request fills the caches
	assert.Zero(t, testing.AllocsPerRun(100, func() { serve() }))
}
