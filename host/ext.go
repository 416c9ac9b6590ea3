package host

import (
	"slices"

	"github.com/tetratelabs/wazero/api"
)

// extModule is wasmcluster's own host module: what the host offers guests
// beyond the public http-wasm ABI, which stays pure in abiModule. Every
// capability keeps its table of functions in a file of its own and joins
// extFuncs here; guest-sdk/ABI.md documents the whole module.
//
// Every function of the module that can fail follows one convention, so
// that every SDK wraps them all the same way. A call returns an i64:
//
//   - >= 0: success; the value is the full length of the call's result. The
//     result was written at buf if it fit in buf_limit; if not, the guest
//     reads it with read_result, until its next call into this module.
//   - < 0: one of the ext* codes below; for extFailed the guest reads the
//     message with last_error.
//
// A failed call never traps: traps are for guest bugs, such as memory
// outside the guest's own.
const extModule = "wasmcluster"

// Codes a call into extModule returns instead of a length.
const (
	extFailed   = -1 // the call failed; last_error has the message
	extNotFound = -2 // the key, name or handle does not exist
	extConflict = -3 // a compare-and-swap found another value
)

// extState is the state of the last call into extModule, reset with the
// exchange for each request.
type extState struct {
	result  []byte // the last call's result, for read_result
	lastErr string // the last failure's message, for last_error
}

// extFuncs is the whole wasmcluster host module.
var extFuncs = slices.Concat(resultFuncs, flushFuncs, requestFuncs, callFuncs, fetchFuncs, kvFuncs)

// extFunctions names the functions of extFuncs, to check imports.
var extFunctions = funcNames(extFuncs)

// resultFuncs read what the last call into extModule left behind.
var resultFuncs = []hostFunc{
	{"read_result", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).readResult},
	{"last_error", []api.ValueType{i32, i32}, []api.ValueType{i32}, (*exchange).lastError},
}

// readResult is read_result(buf, buf_limit) -> len: the last call's result.
func (ex *exchange) readResult(stack []uint64) {
	stack[0] = ex.writeIfFits(stack[0], stack[1], string(ex.ext.result), "read_result")
}

// lastError is last_error(buf, buf_limit) -> len: the last failure's message.
func (ex *exchange) lastError(stack []uint64) {
	stack[0] = ex.writeIfFits(stack[0], stack[1], ex.ext.lastErr, "last_error")
}

// extResult ends a successful call that produced out: it is written at buf
// if it fits in limit and kept for read_result either way. The returned
// value is the call's i64 result, out's length.
func (ex *exchange) extResult(buf, limit uint64, out []byte) uint64 {
	ex.ext.result = append(ex.ext.result[:0], out...)
	ex.ext.lastErr = ""
	if len(out) > 0 && len(out) <= int(uint32(limit)) {
		copy(ex.read(buf, uint64(len(out)), "result"), out)
	}
	return uint64(len(out))
}

// extError ends a failed call: err's message is kept for last_error and
// extFailed returned as the call's i64 result.
func (ex *exchange) extError(err error) uint64 {
	r := ex.extCode(extFailed)
	ex.ext.lastErr = err.Error()
	return r
}

// extCode ends a call with one of the ext* codes.
func (ex *exchange) extCode(code int64) uint64 {
	ex.ext.result = ex.ext.result[:0]
	ex.ext.lastErr = ""
	return uint64(code)
}
