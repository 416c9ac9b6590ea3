package guest

import "net/http"

// hostFlush is flush of wasmcluster's own host module (see ../ABI.md), or
// nil outside a Wasm build.
var hostFlush func() int64

// Flush sends the status, the headers and the body written so far to the
// client at once, as http.Flusher promises: a handler streams (server-sent
// events, progress) by writing and flushing. It uses wasmcluster's own host
// module; while the host buffers the response (feature buffer response)
// it sends nothing early.
func (w *responseWriter) Flush() {
	if w.next {
		return
	}
	w.WriteHeader(http.StatusOK)
	if hostFlush != nil {
		hostFlush()
	}
}

// Flush sends the status, the headers and the body written so far to the
// client at once; see responseWriter.Flush.
func (x *Exchange) Flush() {
	if hostFlush != nil {
		hostFlush()
	}
}
