// Command host-functions embeds the cluster in a Go program that gives its
// guest a function of its own: the guest (./guest, built by go generate)
// answers GET /greet?name=X with a greeting the program's "greet" makes
// from its own state, a count of the visitors each worker has greeted.
//
//	go generate ./examples/host-functions
//	go run ./examples/host-functions --listen 127.0.0.1:8080 --workers 2
//	curl '127.0.0.1:8080/greet?name=Ada'
//
// Every worker runs this program again, so every worker registers greet:
// a function registered before wasmcluster.Run exists in all of them.
package main

//go:generate env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o wasm/guest.wasm ./guest

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/host"
)

// guestFiles holds wasm/guest.wasm once go generate has built it; the
// pattern takes the folder so that the program still compiles before.
//
//go:embed all:wasm
var guestFiles embed.FS

// greeter is the program's own state behind the greet function.
type greeter struct {
	mu     sync.Mutex
	visits map[string]int
}

// Greeting is what greet returns to the guest, as JSON.
type Greeting struct {
	Text string
}

// greet greets name, counting the visits this worker has seen.
func (g *greeter) greet(_ context.Context, in struct{ Name string }) (Greeting, error) {
	if in.Name == "" {
		return Greeting{}, fmt.Errorf("greet: no name")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.visits[in.Name]++
	return Greeting{Text: fmt.Sprintf("Hello, %s! Visit %d to worker %d.", in.Name, g.visits[in.Name], os.Getpid())}, nil
}

func main() {
	listen := flag.String("listen", ":8080", "`address` to serve")
	workers := flag.Int("workers", 0, "`n` worker processes (0: one per CPU)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	wasm, err := guestFiles.ReadFile("wasm/guest.wasm")
	if err != nil {
		log.Error("the guest is not built: run go generate ./examples/host-functions first")
		os.Exit(1)
	}
	g := &greeter{visits: make(map[string]int)}
	err = wasmcluster.Run(context.Background(), wasmcluster.Config{
		Wasm:    wasm,
		Listen:  *listen,
		Workers: *workers,
		Logger:  log,
		Host: host.Config{
			Functions: map[string]host.Function{"greet": host.JSONFunction(g.greet)},
		},
	})
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}
