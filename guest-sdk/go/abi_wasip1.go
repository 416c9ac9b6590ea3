//go:build wasip1

package guest

import "unsafe"

func init() { abi = wasmHost{} }

//go:wasmexport handle_request
func handleRequest() uint64 { return serve() }

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {}

// wasmHost is the http_handler host module.
type wasmHost struct{}

//go:wasmimport http_handler enable_features
func enableFeatures(features uint32) uint32

//go:wasmimport http_handler get_config
func getConfig(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler log_enabled
func logEnabled(level int32) uint32

//go:wasmimport http_handler log
func logMessage(level int32, msg unsafe.Pointer, n uint32)

//go:wasmimport http_handler get_method
func getMethod(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler set_method
func setMethod(p unsafe.Pointer, n uint32)

//go:wasmimport http_handler get_uri
func getURI(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler set_uri
func setURI(p unsafe.Pointer, n uint32)

//go:wasmimport http_handler get_source_addr
func getSourceAddr(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_header_values
func getHeaderValues(kind uint32, name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler add_header_value
func addHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler remove_header
func removeHeader(kind uint32, name unsafe.Pointer, nameLen uint32)

//go:wasmimport http_handler read_body
func readBody(kind uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler write_body
func writeBody(kind uint32, p unsafe.Pointer, n uint32)

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

// bytesPtr and stringPtr pass memory to the host; empty values pass a nil
// pointer with length zero.
func bytesPtr(b []byte) unsafe.Pointer  { return unsafe.Pointer(unsafe.SliceData(b)) }
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// listLen is the length of a header list from its getter's result,
// count<<32 | length; the SDK has no use for the count.
func listLen(countLen uint64) int { return int(uint32(countLen)) }

func (wasmHost) enableFeatures(f uint32) uint32 { return enableFeatures(f) }
func (wasmHost) getConfig(b []byte) int         { return int(getConfig(bytesPtr(b), uint32(len(b)))) }
func (wasmHost) logEnabled(level int32) bool    { return logEnabled(level) == 1 }
func (wasmHost) log(level int32, msg string) {
	logMessage(level, stringPtr(msg), uint32(len(msg)))
}
func (wasmHost) getMethod(b []byte) int     { return int(getMethod(bytesPtr(b), uint32(len(b)))) }
func (wasmHost) setMethod(m string)         { setMethod(stringPtr(m), uint32(len(m))) }
func (wasmHost) getURI(b []byte) int        { return int(getURI(bytesPtr(b), uint32(len(b)))) }
func (wasmHost) setURI(u string)            { setURI(stringPtr(u), uint32(len(u))) }
func (wasmHost) getSourceAddr(b []byte) int { return int(getSourceAddr(bytesPtr(b), uint32(len(b)))) }
func (wasmHost) getRequest(b []byte) int    { return int(getRequest(bytesPtr(b), uint32(len(b)))) }

//go:wasmimport wasmcluster get_request
func getRequest(buf unsafe.Pointer, limit uint32) int64
func (wasmHost) getHeaderValues(kind uint32, name string, b []byte) int {
	return listLen(getHeaderValues(kind, stringPtr(name), uint32(len(name)), bytesPtr(b), uint32(len(b))))
}
func (wasmHost) setHeaderValue(kind uint32, name, value string) {
	setHeaderValue(kind, stringPtr(name), uint32(len(name)), stringPtr(value), uint32(len(value)))
}
func (wasmHost) addHeaderValue(kind uint32, name, value string) {
	addHeaderValue(kind, stringPtr(name), uint32(len(name)), stringPtr(value), uint32(len(value)))
}
func (wasmHost) removeHeader(kind uint32, name string) {
	removeHeader(kind, stringPtr(name), uint32(len(name)))
}
func (wasmHost) readBody(kind uint32, b []byte) (int, bool) {
	eofLen := readBody(kind, bytesPtr(b), uint32(len(b)))
	return int(uint32(eofLen)), eofLen>>32 == 1
}
func (wasmHost) writeBody(kind uint32, p []byte) { writeBody(kind, bytesPtr(p), uint32(len(p))) }
func (wasmHost) setStatusCode(code int)          { setStatusCode(uint32(code)) }
