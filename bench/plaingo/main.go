// Command plaingo is the hello handler as a plain Go net/http server on
// 127.0.0.1, the baseline of bench/run.sh.
//
//	plaingo PORT
package main

import (
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: plaingo PORT")
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], http.HandlerFunc(hello)))
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
