package wasmcluster

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// adminServer serves the admin endpoints. It listens before the module
// is compiled, when there is no primary yet: it is live then, not ready.
type adminServer struct {
	metrics *primaryMetrics
	primary atomic.Pointer[workerSource]
}

// setPrimary gives the endpoints the primary to report on.
func (a *adminServer) setPrimary(p workerSource) {
	a.primary.Store(&p)
	a.metrics.setSource(p)
}

func (a *adminServer) source() workerSource {
	if p := a.primary.Load(); p != nil {
		return *p
	}
	return nil
}

// serve serves the admin endpoints on addr until stop is called.
func (a *adminServer) serve(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second, ConnState: closeReserveConnWhenIdle}
	go func() { _ = srv.Serve(newReserveListener(ln)) }()
	log.Info("admin endpoints", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// handler serves /healthz, /readyz, /workers and /metrics.
func (a *adminServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n") // the primary answers: it is alive
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		p := a.source()
		if p == nil || !p.Ready() {
			http.Error(w, "not ready: starting, draining or no worker serving", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /workers", func(w http.ResponseWriter, r *http.Request) {
		workers := []dispatcher.WorkerStats{}
		if p := a.source(); p != nil {
			workers = p.Workers()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(workers)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}
