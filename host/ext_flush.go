package host

import (
	"errors"
	"net/http"

	"github.com/tetratelabs/wazero/api"
)

// flushFuncs let a guest stream: what it wrote so far reaches the client
// at once, rather than when net/http's buffer fills or the guest returns.
var flushFuncs = []hostFunc{
	{"flush", nil, []api.ValueType{i64}, (*exchange).flush},
}

// errFlushBuffered is flush's failure while buffer response holds the
// response: nothing can go out before the guest is done.
var errFlushBuffered = errors.New("flush: the response is buffered (feature buffer response) until the guest is done")

// flush is flush() -> i64: the status, the headers and the body written so
// far go to the client. 0 on success; extFailed when the response is
// buffered or the connection cannot flush.
func (ex *exchange) flush(stack []uint64) {
	ex.inRequest("flush")
	if ex.buffering() {
		stack[0] = ex.extError(errFlushBuffered)
		return
	}
	ex.writeHeader()
	if err := http.NewResponseController(ex.w).Flush(); err != nil {
		stack[0] = ex.extError(err)
		return
	}
	stack[0] = ex.extResult(0, 0, nil)
}
