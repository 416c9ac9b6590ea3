//go:build wasip1

package guest

import (
	"net/http"
	"unsafe"
)

func init() {
	emptyRequest = *(&http.Request{}).WithContext(&requestContext)
	hostDeadline = func(buf []byte) int64 { return getDeadline(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf))) }
}

//go:wasmimport wasmcluster get_deadline
func getDeadline(buf unsafe.Pointer, limit uint32) int64
