// Command hello is the hello handler in Go, on the wasmcluster Go SDK's
// net/http handlers: an ordinary http.HandlerFunc. ../go-exchange is the
// same on the SDK's Exchange API, which costs about a sixth as much.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm ./examples/hello-wasm/go
//	wasmcluster serve hello.wasm
//
// GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
// its body. Every response carries X-Hello: wasmcluster.
package main

import (
	"io"
	"net/http"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(hello)
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Hello", "wasmcluster")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodPost {
		_, _ = io.Copy(w, r.Body)
		return
	}
	_, _ = io.WriteString(w, "Hello from wasmcluster: "+r.URL.Path+"\n")
}

func main() {}
