// Command hello is the hello handler in Go, on the SDK's Exchange API —
// the one `make serve` serves. ../go is the same handler on net/http, at
// about six times its cost a request; it differs in one thing: net/http
// decodes the path (/a%20b answers "/a b"), the Exchange echoes it as sent.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm ./examples/hello-wasm/go-exchange
//	wasmcluster serve hello.wasm
//
// GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
// its body. Every response carries X-Hello: wasmcluster.
package main

import (
	"io"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleExchange(hello)
}

// buf is reused by every request: an instance serves one at a time.
var buf []byte

func hello(x *guest.Exchange) {
	x.SetHeader("X-Hello", "wasmcluster")
	x.SetHeader("Content-Type", "text/plain; charset=utf-8")
	if x.Method() == "POST" {
		_, _ = io.Copy(x, x.Body())
		return
	}
	buf = append(buf[:0], "Hello from wasmcluster: "...)
	buf = append(x.AppendPath(buf), '\n')
	_, _ = x.Write(buf)
}

func main() {}
