package guest_test

import (
	"io"
	"net/http"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

// A guest calls a function of the program embedding the host by name; the
// function's error comes back as an error.
func ExampleCall() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := guest.Call("lookup", []byte(r.URL.Query().Get("id")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Write(out)
	})
}

// With outbound destinations allowed (wasmcluster serve --allow-outbound
// https://api.example.com), http.Get works as anywhere else, through the
// host.
func ExampleTransport() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get("https://api.example.com/v1/status")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway) // a refused destination says why
			return
		}
		defer res.Body.Close()
		io.Copy(w, res.Body)
	})
	// A client of one's own sets the transport itself.
	_ = &http.Client{Transport: guest.Transport{}}
}
