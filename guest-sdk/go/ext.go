package guest

import (
	"errors"
	"fmt"
)

// The wasmcluster host module (see ../ABI.md) answers every call that can
// fail with one convention: an i64 that is the result's length, or a
// negative code. These turn it into Go values.

// Errors of the wasmcluster host module's codes; a failed call's own
// message comes as a plain error.
var (
	// ErrNotFound: the name, key or handle does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap found another value.
	ErrConflict = errors.New("conflict")
)

// errNoHost is what calls into the wasmcluster module return outside a
// Wasm build, where there is no host to call.
var errNoHost = errors.New("not running in a wasmcluster host")

// resultABI reads what a call into the wasmcluster module left behind.
type resultABI interface {
	readResult(buf []byte) int
	lastError(buf []byte) int
}

// results is the host; a Wasm build sets it.
var results resultABI

// extResult returns the result of a call that returned r with buf as its
// buffer: buf[:r] when it fit, else a new slice read with read_result.
func extResult(r int64, buf []byte) ([]byte, error) {
	if r < 0 {
		return nil, extError(r)
	}
	if int(r) <= len(buf) {
		return buf[:r], nil
	}
	out := make([]byte, r)
	return out[:results.readResult(out)], nil
}

// extError is the error of a negative code.
func extError(code int64) error {
	switch code {
	case -1:
		return errors.New(string(field(results.lastError)))
	case -2:
		return ErrNotFound
	case -3:
		return ErrConflict
	}
	return fmt.Errorf("wasmcluster: unknown result code %d", code)
}
