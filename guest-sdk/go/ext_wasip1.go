//go:build wasip1

package guest

import "unsafe"

func init() { results = wasmResults{} }

// wasmResults is read_result and last_error of the wasmcluster module.
type wasmResults struct{}

//go:wasmimport wasmcluster read_result
func readResult(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport wasmcluster last_error
func lastError(buf unsafe.Pointer, limit uint32) uint32

func (wasmResults) readResult(b []byte) int { return int(readResult(bytesPtr(b), uint32(len(b)))) }
func (wasmResults) lastError(b []byte) int  { return int(lastError(bytesPtr(b), uint32(len(b)))) }
