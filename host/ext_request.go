package host

import (
	"encoding/binary"
	"net/http"

	"github.com/tetratelabs/wazero/api"
)

// requestFuncs tell a guest what the public ABI does not carry about the
// request — its scheme and its deadline —, and the whole request in one
// call.
var requestFuncs = []hostFunc{
	{"get_scheme", []api.ValueType{i32, i32}, []api.ValueType{i64}, (*exchange).getScheme},
	{"get_deadline", []api.ValueType{i32, i32}, []api.ValueType{i64}, (*exchange).getDeadline},
	{"get_request", []api.ValueType{i32, i32}, []api.ValueType{i64}, (*exchange).getRequest},
}

// getScheme is get_scheme(buf, buf_limit) -> i64: "https" when the request
// came over TLS, else "http".
func (ex *exchange) getScheme(stack []uint64) {
	ex.inRequest("get_scheme")
	stack[0] = ex.extResult(stack[0], stack[1], []byte(scheme(ex.r)))
}

// scheme is "https" for a request that came over TLS, else "http".
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// getRequest is get_request(buf, buf_limit) -> i64: what get_method,
// get_uri, get_protocol_version, get_source_addr, get_scheme and the
// request's get_header_names and get_header_values give, in one call —
// a Go guest pays for every call into the host more than for most of
// what it does with the answer. Each part is a little-endian u32 length
// and its bytes: the five fields, the list of names, then each name's
// list of values, in the order of the names.
func (ex *exchange) getRequest(stack []uint64) {
	ex.inRequest("get_request")
	r := ex.r
	// Built where extResult keeps a result for read_result: it then copies
	// the answer onto itself.
	b := ex.ext.result[:0]
	for _, s := range [...]string{r.Method, requestURI(r), protocolVersion(r), r.RemoteAddr, scheme(r)} {
		b = appendPart(b, s)
	}
	names := ex.headerNames(kindRequest)
	b = appendList(b, names)
	for _, name := range names {
		b = appendList(b, ex.headerValues(kindRequest, name))
	}
	stack[0] = ex.extResult(stack[0], stack[1], b)
}

// appendPart appends s with its length before it.
func appendPart(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint32(b, uint32(len(s))), s...)
}

// appendList appends items as the ABI lists them, each NUL-terminated,
// with the list's length before it.
func appendList(b []byte, items []string) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, s := range items {
		b = append(append(b, s...), 0)
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// getDeadline is get_deadline(buf, buf_limit) -> i64: when the host
// interrupts the request (Config.Timeout), as 8 bytes, little-endian Unix
// nanoseconds.
func (ex *exchange) getDeadline(stack []uint64) {
	ex.inRequest("get_deadline")
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ex.inst.deadline.Load()))
	stack[0] = ex.extResult(stack[0], stack[1], b[:])
}
