// Command guest is the handler of examples/host-functions: GET
// /greet?name=X answers the greeting the host's function "greet" makes.
// go generate ./examples/host-functions builds it.
package main

import (
	"io"
	"net/http"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/greet" {
			http.NotFound(w, r)
			return
		}
		var greeting struct{ Text string }
		if err := guest.CallJSON("greet", map[string]string{"Name": r.URL.Query().Get("name")}, &greeting); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, greeting.Text+"\n")
	})
}

func main() {}
