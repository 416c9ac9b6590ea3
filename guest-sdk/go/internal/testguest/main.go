// Command testguest exercises the Go guest SDK for its tests: the path
// picks the behaviour.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/inspect":
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("X-Query", r.URL.Query().Get("q"))
			w.Header().Set("X-Host", r.Host)
			w.Header().Set("X-Proto", r.Proto)
			w.Header()["X-Multi"] = r.Header.Values("X-Multi")
			w.Header().Set("X-Remote", r.RemoteAddr)
			w.Header().Set("X-TLS", fmt.Sprint(r.TLS != nil))
			if deadline, ok := r.Context().Deadline(); ok {
				w.Header().Set("X-Deadline-In", time.Until(deadline).Round(time.Second).String())
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "length=%d", r.ContentLength)
		case "/config":
			w.Write(guest.Config())
		case "/log":
			guest.Log(slog.LevelWarn, "guest says "+r.URL.RawQuery)
		case "/trailers":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
		case "/next":
			r.Header.Set("X-Added", "by guest")
			r.URL.Path = "/rewritten"
			w.Header().Set("X-Guest", "was here")
			guest.Next(w, r)
		case "/sniff":
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/upper":
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, strings.ToUpper(string(b)))
		default:
			http.NotFound(w, r)
		}
	})
}

func main() {}
