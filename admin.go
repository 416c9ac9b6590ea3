package wasmcluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// workerSource is what the admin endpoints read.
type workerSource interface {
	Workers() []dispatcher.WorkerStats
}

// adminHandler serves /healthz, /workers and /metrics.
func adminHandler(p workerSource) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		for _, ws := range p.Workers() {
			if ws.Ready {
				io.WriteString(w, "ok\n")
				return
			}
		}
		http.Error(w, "no worker is serving", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /workers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Workers())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, p.Workers())
	})
	return mux
}

// writeMetrics writes the worker figures in the Prometheus text format.
func writeMetrics(w io.Writer, workers []dispatcher.WorkerStats) {
	metrics := []struct {
		name, kind, help string
		value            func(dispatcher.WorkerStats) any
	}{
		{"wasmcluster_worker_up", "gauge", "Whether the worker serves (1) or not (0).",
			func(s dispatcher.WorkerStats) any { return boolInt(s.Ready) }},
		{"wasmcluster_worker_connections_handed_total", "counter", "Connections handed to the worker.",
			func(s dispatcher.WorkerStats) any { return s.Handed }},
		{"wasmcluster_worker_connections_active", "gauge", "Live connections of the worker.",
			func(s dispatcher.WorkerStats) any { return s.Active }},
		{"wasmcluster_worker_requests_total", "counter", "Requests the worker served.",
			func(s dispatcher.WorkerStats) any { return s.Requests }},
		{"wasmcluster_worker_restarts_total", "counter", "Times the worker was replaced after it exited.",
			func(s dispatcher.WorkerStats) any { return s.Restarts }},
	}
	for _, m := range metrics {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.kind)
		for _, s := range workers {
			fmt.Fprintf(w, "%s{worker=\"%d\",pid=\"%d\"} %v\n", m.name, s.ID, s.PID, m.value(s))
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
