package host_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmcluster/wasmcluster/host"
)

// A Go application mounts a Wasm handler on its own mux, next to its own
// handlers, and puts another in front of its API as middleware.
func Example() {
	ctx := context.Background()

	hello, err := host.Load(ctx, "hello.wasm", host.Config{
		Timeout:   2 * time.Second,
		MaxMemory: 64 << 20,
	})
	if err != nil {
		log.Fatal(err) // e.g. load module hello.wasm: not a valid Wasm module: ...
	}
	defer hello.Close(ctx)

	auth, err := host.Load(ctx, "auth.wasm", host.Config{GuestConfig: []byte("realm=api")})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close(ctx)

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("api says hi\n"))
	})

	mux := http.NewServeMux()
	mux.Handle("/hello/", hello)        // the guest answers
	mux.Handle("/api/", auth.Wrap(api)) // the guest answers or passes to api (next=1)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// A Handler counts traps, timeouts, limit refusals, live instances and
// pool waits into the registry it is given; the application serves them
// with its own metrics.
func ExampleConfig_metrics() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	h, err := host.Load(ctx, "hello.wasm", host.Config{Metrics: reg})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// A program that runs Handlers in a process of their own can give the Go
// runtime a memory limit from their configuration, as wasmcluster's
// workers do: the guests' Go heap (stacks and bodies) plus the
// process's own. Linear memory is outside the Go heap and not counted.
func ExampleConfig_HeapBound() {
	cfg := host.Config{MaxInstances: 8, MaxRequestBody: 1 << 20, MaxResponseBody: 1 << 20}
	fmt.Printf("%d MiB\n", cfg.HeapBound()>>20)
	prev := debug.SetMemoryLimit(64<<20 + cfg.HeapBound())
	defer debug.SetMemoryLimit(prev) // a program would keep its limit
	// Output: 1040 MiB
}
