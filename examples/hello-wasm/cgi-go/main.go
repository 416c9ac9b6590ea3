// Command hello is the hello handler as a plain Go program: a WASI command
// that speaks CGI. No SDK: the request is in the environment and on stdin,
// the response goes to stdout.
//
//	GOOS=wasip1 GOARCH=wasm go build -o hello.wasm ./examples/hello-wasm/cgi-go
//
// GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
// its body. Every response carries X-Hello: wasmcluster.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	fmt.Println("Status: 200 OK")
	fmt.Println("X-Hello: wasmcluster")
	fmt.Println("Content-Type: text/plain; charset=utf-8")
	fmt.Println()
	if os.Getenv("REQUEST_METHOD") == "POST" {
		_, _ = io.Copy(os.Stdout, os.Stdin)
		return
	}
	fmt.Println("Hello from wasmcluster: " + os.Getenv("PATH_INFO"))
}
