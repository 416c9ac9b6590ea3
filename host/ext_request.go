package host

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// requestFuncs tell a guest what the public ABI does not carry about the
// request: its scheme and its deadline.
var requestFuncs = []hostFunc{
	{"get_scheme", []api.ValueType{i32, i32}, []api.ValueType{i64}, (*exchange).getScheme},
	{"get_deadline", []api.ValueType{i32, i32}, []api.ValueType{i64}, (*exchange).getDeadline},
}

// getScheme is get_scheme(buf, buf_limit) -> i64: "https" when the request
// came over TLS, else "http".
func (ex *exchange) getScheme(stack []uint64) {
	ex.inRequest("get_scheme")
	scheme := "http"
	if ex.r.TLS != nil {
		scheme = "https"
	}
	stack[0] = ex.extResult(stack[0], stack[1], []byte(scheme))
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
