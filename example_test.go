package wasmcluster_test

import (
	"context"
	"log"
	"time"

	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/host"
)

// An application that serves a Wasm handler on every core calls Run first
// thing in main. The same program runs as the primary and, started again
// by it, as each worker; Run knows which it is.
func Example() {
	cfg := wasmcluster.Config{
		Module:  "hello.wasm",
		Listen:  ":8080",
		Admin:   "127.0.0.1:9090",
		Balance: "least-conn",
		Host: host.Config{
			Timeout:   5 * time.Second,
			MaxMemory: 64 << 20,
		},
	}
	if wasmcluster.IsWorker() {
		log.SetPrefix("worker: ")
	}
	// Returns after SIGTERM or SIGINT, once in-flight requests finished.
	if err := wasmcluster.Run(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}
