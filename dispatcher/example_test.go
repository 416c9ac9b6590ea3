package dispatcher_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// Any http.Handler can be served by one worker process per core: the
// program checks whether it is a worker first thing, like a Node program
// checks cluster.isPrimary.
func Example() {
	if dispatcher.IsWorker() {
		hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from worker %d (pid %d)\n", dispatcher.WorkerID(), os.Getpid())
		})
		if err := dispatcher.ServeWorker(context.Background(), hello, dispatcher.WorkerOptions{}); err != nil {
			log.Fatal(err)
		}
		return
	}

	ln, err := dispatcher.Listen("127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	p := dispatcher.NewPrimary(dispatcher.Options{Balancer: dispatcher.LeastConnections()})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		for range hup {
			if err := p.Reload(ctx); err != nil {
				log.Print(err)
			}
		}
	}()
	if err := p.Serve(ctx, ln); err != nil { // drains when ctx is done
		log.Fatal(err)
	}
}
