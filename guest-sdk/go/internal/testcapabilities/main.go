// Command testcapabilities exercises the Go guest SDK's host functions and
// outbound HTTP for tests: the path picks the behaviour.
package main

import (
	"errors"
	"io"
	"net/http"
	"strings"

	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

func init() {
	guest.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/call/"):
			in, _ := io.ReadAll(r.Body)
			out, err := guest.Call(strings.TrimPrefix(r.URL.Path, "/call/"), in)
			if errors.Is(err, guest.ErrNotFound) {
				w.WriteHeader(http.StatusNotFound)
			}
			reply(w, out, err)
		case r.URL.Path == "/json":
			var out struct{ Greeting string }
			err := guest.CallJSON("greet", map[string]string{"Name": r.URL.Query().Get("name")}, &out)
			reply(w, []byte(out.Greeting), err)
		case r.URL.Path == "/fetch":
			fetch(w, r)
		case r.URL.Path == "/stream":
			stream(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// reply writes out, or "error: " and err's message.
func reply(w http.ResponseWriter, out []byte, err error) {
	if err != nil {
		io.WriteString(w, "error: "+err.Error())
		return
	}
	w.Write(out)
}

// fetch sends the request's body to the URL ?url= with the request's
// method, through http.DefaultClient, and answers with the upstream's
// status, its X-Upstream header and its body; an error answers 502.
func fetch(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequest(r.Method, r.URL.Query().Get("url"), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Header.Set("X-From", "guest")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, "error: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		http.Error(w, "error: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("X-Upstream", res.Header.Get("X-Upstream"))
	w.WriteHeader(res.StatusCode)
	w.Write(body)
}

// stream posts "part1part2" to ?url=, calling the host function "wait"
// between the parts, and passes each chunk of the response to the host
// function "chunk" as it arrives.
func stream(w http.ResponseWriter, r *http.Request) {
	res, err := http.Post(r.URL.Query().Get("url"), "text/plain", &steppedBody{})
	if err != nil {
		http.Error(w, "error: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	buf := make([]byte, 1024)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if _, err := guest.Call("chunk", buf[:n]); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusBadGateway)
				return
			}
			w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// steppedBody reads "part1", then, once the host function "wait" has
// returned, "part2".
type steppedBody struct{ step int }

func (b *steppedBody) Read(p []byte) (int, error) {
	b.step++
	switch b.step {
	case 1:
		return copy(p, "part1"), nil
	case 2:
		if _, err := guest.Call("wait", nil); err != nil {
			return 0, err
		}
		return copy(p, "part2"), nil
	}
	return 0, io.EOF
}

func main() {}
