package host

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the series a Handler counts into Config.Metrics. Every
// Handler has them, registered or not, so that counting needs no check.
//
// A capability that wants series of its own (calls made, bytes moved,
// errors) makes them in New with counterVec, gaugeVec or register (for
// any other collector) and keeps them in this struct: they then reach whatever registry the
// embedder passed, and in a cluster the primary's /metrics, labelled by
// worker, with no other change (see the root package's RATIONALE.md).
type metrics struct {
	reg prometheus.Registerer // nil: nothing is registered

	traps     prometheus.Counter
	timeouts  prometheus.Counter
	refusals  *prometheus.CounterVec // by limit: request_body, response_body, memory
	instances prometheus.Gauge
	waits     prometheus.Counter
}

// Limits a refusal names.
const (
	limitRequestBody  = "request_body"
	limitResponseBody = "response_body"
	limitMemory       = "memory"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{reg: reg}
	m.traps = m.counterVec("wasmcluster_guest_traps_total", "Requests whose guest trapped (the client got 500).").WithLabelValues()
	m.timeouts = m.counterVec("wasmcluster_guest_timeouts_total", "Requests whose guest overran its timeout (the client got 504).").WithLabelValues()
	m.refusals = m.counterVec("wasmcluster_limit_refusals_total", "Requests refused for a limit: a request body over --max-body (413), a response over --max-response, a guest out of --max-memory (500).", "limit")
	m.instances = m.gaugeVec("wasmcluster_instances_live", "Live guest instances: in use or idle in the pool.").WithLabelValues()
	m.waits = m.counterVec("wasmcluster_pool_waits_total", "Requests that had to wait for a free guest instance.").WithLabelValues()
	return m
}

// counterVec returns a counter vector registered as name, or the one
// registered under that name already (another Handler's), so that every
// Handler of a process adds to the same series.
func (m *metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(m.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// gaugeVec is counterVec for a gauge.
func (m *metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(m.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

// register registers c with reg, or returns what reg has under its name
// already. With no reg, c stays unregistered and counts for nobody.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}

// trapped counts a guest that trapped: as a refusal for memory when its
// memory had reached the limit, else as a trap.
func (m *metrics) trapped(inst *instance) {
	if inst.mem != nil && uint64(inst.mem.Size())+65536 > inst.h.cfg.MaxMemory {
		m.refusals.WithLabelValues(limitMemory).Inc()
		return
	}
	m.traps.Inc()
}
