// Command plaingo is the hello handler as a plain Go net/http server, the
// baseline of bench/run.sh.
//
//	plaingo -listen 127.0.0.1:8081
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*listen, http.HandlerFunc(hello)))
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
