// Command counter is a hit counter every worker shares, kept in the
// key-value store "default":
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm ./examples/counter
//	wasmcluster serve counter.wasm                        # the embedded store
//	wasmcluster serve --kv default=redis://127.0.0.1:6379/0 counter.wasm
//
// POST / adds one to the key "hits", atomically across workers and
// machines, and answers the new count in decimal digits; GET / answers the
// count. A store that fails answers 503 with its error.
package main

import (
	"strconv"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
	"github.com/wasmcluster/wasmcluster/guest-sdk/go/kv"
)

func init() {
	guest.HandleExchange(count)
}

// buf is reused by every request: an instance serves one at a time.
var buf []byte

func count(x *guest.Exchange) {
	x.SetHeader("Content-Type", "text/plain; charset=utf-8")
	buf = buf[:0]
	switch x.Method() {
	case "POST":
		n, err := kv.Increment("hits", 1)
		if err != nil {
			fail(x, err)
			return
		}
		buf = strconv.AppendInt(buf, n, 10)
	case "GET", "HEAD":
		v, found, err := kv.Get("hits")
		if err != nil {
			fail(x, err)
			return
		}
		if !found {
			v = []byte("0")
		}
		buf = append(buf, v...)
	default:
		x.SetHeader("Allow", "GET, HEAD, POST")
		x.SetStatus(405)
		buf = append(buf, "method not allowed"...)
	}
	_, _ = x.Write(append(buf, '\n'))
}

// fail answers 503: the store, not the request, is at fault.
func fail(x *guest.Exchange, err error) {
	x.SetStatus(503)
	_, _ = x.Write([]byte(err.Error() + "\n"))
}

func main() {}
