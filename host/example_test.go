package host_test

import (
	"context"
	"log"
	"net/http"
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
