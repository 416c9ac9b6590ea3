// Command sse is a server-sent-events handler on the Go guest SDK: four
// events, 200 ms apart, each flushed to the client as it is written.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sse.wasm ./examples/sse/go
package main

import (
	"fmt"
	"net/http"
	"time"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for i := 1; i <= 4; i++ {
			if i > 1 {
				time.Sleep(200 * time.Millisecond)
			}
			fmt.Fprintf(w, "data: tick %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
}

func main() {}
