package guest_test

import (
	"io"
	"net/http"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

// A guest registers its handler with code like this in its init function,
// and leaves main empty. The handler is ordinary net/http code.
func ExampleHandleFunc() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Hello from wasmcluster: "+r.URL.Path+"\n")
	})
}

// Any http.Handler serves, a ServeMux too. This one answers
// GET /hello/{name} and passes every other request on to the host's next
// handler.
func ExampleHandle() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello, "+r.PathValue("name")+"\n")
	})
	mux.HandleFunc("/", guest.Next)
	guest.Handle(mux)
}

// An Exchange handler reads the request and writes the response through
// the host, building no http.Request; appending to a buffer it keeps, it
// allocates nothing once warm.
func ExampleHandleExchange() {
	var buf []byte // reused: an instance serves one request at a time
	guest.HandleExchange(func(x *guest.Exchange) {
		if x.Method() != http.MethodGet {
			x.Next()
			return
		}
		x.SetHeader("Content-Type", "text/plain; charset=utf-8")
		buf = append(buf[:0], "Hello from wasmcluster: "...)
		buf = append(x.AppendPath(buf), '\n')
		x.Write(buf)
	})
}
