// Command readfile is a test handler: GET /?PATH answers the file at PATH
// as the guest sees it, or 404 with the error.
package main

import (
	"net/http"
	"os"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(data)
	})
}

func main() {}
