//go:build wasip1

package guest

import "unsafe"

func init() { calls = wasmCalls{} }

// wasmCalls is wasmcluster.call.
type wasmCalls struct{}

//go:wasmimport wasmcluster call
func callFunction(name unsafe.Pointer, nameLen uint32, in unsafe.Pointer, inLen uint32, buf unsafe.Pointer, limit uint32) int64

func (wasmCalls) call(name string, in, buf []byte) int64 {
	return callFunction(stringPtr(name), uint32(len(name)), bytesPtr(in), uint32(len(in)), bytesPtr(buf), uint32(len(buf)))
}
