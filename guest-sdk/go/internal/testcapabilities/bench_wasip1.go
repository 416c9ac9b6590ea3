//go:build wasip1

package main

import guest "github.com/wasmcluster/wasmcluster/guest-sdk/go"

// benchIn is the 16-byte input of the benchmark's host function call.
var benchIn = []byte("0123456789abcdef")

// benchPlain is an export that does nothing: the cost of a call alone.
//
//go:wasmexport bench_plain
func benchPlain() {}

// benchCall calls the host function "echo" once with 16 bytes.
//
//go:wasmexport bench_call
func benchCall() {
	if _, err := guest.Call("echo", benchIn); err != nil {
		panic(err)
	}
}
