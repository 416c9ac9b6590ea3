// Command testexchange exercises the Go guest SDK's Exchange for its
// tests: the path picks the behaviour.
package main

import (
	guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"
)

var buf []byte

func init() {
	guest.HandleExchange(func(x *guest.Exchange) {
		buf = x.AppendPath(buf[:0])
		switch string(buf) {
		case "/inspect":
			x.SetStatus(201)
			x.AddHeader("X-Method", x.Method())
			buf = append(buf[:0], "uri="...)
			buf = x.AppendURI(buf)
			buf = append(buf, " name="...)
			buf, _ = x.AppendHeader(buf, "X-Name")
			_, found := x.AppendHeader(nil, "X-Missing")
			if !found {
				buf = append(buf, " missing"...)
			}
			buf = append(buf, " from="...)
			buf = x.AppendSourceAddr(buf)
			_, _ = x.Write(buf)
		case "/next":
			x.SetRequestHeader("X-User", "alice")
			x.SetHeader("X-Guest", "passed")
			x.Next()
		}
	})
}

func main() {}
