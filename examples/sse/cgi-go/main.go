// Command sse is a server-sent-events CGI program (a plain WASI command,
// no SDK): four events, 200 ms apart. Every write to os.Stdout, which Go
// does not buffer, reaches the client at once.
//
//	GOOS=wasip1 GOARCH=wasm go build -o sse-cgi.wasm ./examples/sse/cgi-go
package main

import (
	"fmt"
	"time"
)

func main() {
	fmt.Print("Content-Type: text/event-stream\nCache-Control: no-cache\n\n")
	for i := 1; i <= 4; i++ {
		if i > 1 {
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Printf("data: tick %d\n\n", i)
	}
}
