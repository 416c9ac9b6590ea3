//go:build wasip1

package guest

import (
	"net/http"
	"unsafe"
)

func init() {
	fetches = wasmFetches{}
	http.DefaultClient.Transport = Transport{}
}

// wasmFetches is the http_* functions of the wasmcluster module.
type wasmFetches struct{}

//go:wasmimport wasmcluster http_request
func httpRequest(method unsafe.Pointer, methodLen uint32, url unsafe.Pointer, urlLen uint32) int64

//go:wasmimport wasmcluster http_header
func httpHeader(h uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int64

//go:wasmimport wasmcluster http_write
func httpWrite(h uint32, p unsafe.Pointer, n uint32) int64

//go:wasmimport wasmcluster http_send
func httpSend(h uint32, buf unsafe.Pointer, limit uint32) int64

//go:wasmimport wasmcluster http_read
func httpRead(h uint32, buf unsafe.Pointer, limit uint32) int64

//go:wasmimport wasmcluster http_close
func httpClose(h uint32) int64

func (wasmFetches) httpRequest(method, url string) int64 {
	return httpRequest(stringPtr(method), uint32(len(method)), stringPtr(url), uint32(len(url)))
}
func (wasmFetches) httpHeader(h uint32, name, value string) int64 {
	return httpHeader(h, stringPtr(name), uint32(len(name)), stringPtr(value), uint32(len(value)))
}
func (wasmFetches) httpWrite(h uint32, p []byte) int64 {
	return httpWrite(h, bytesPtr(p), uint32(len(p)))
}
func (wasmFetches) httpSend(h uint32, buf []byte) int64 {
	return httpSend(h, bytesPtr(buf), uint32(len(buf)))
}
func (wasmFetches) httpRead(h uint32, buf []byte) int64 {
	return httpRead(h, bytesPtr(buf), uint32(len(buf)))
}
func (wasmFetches) httpClose(h uint32) int64 { return httpClose(h) }
