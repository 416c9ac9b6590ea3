package host

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmcluster/wasmcluster/kv"
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

	// Capabilities (ext_call.go, ext_fetch.go).
	functionCalls   *prometheus.CounterVec // by function and outcome
	outbound        *prometheus.CounterVec // by destination host and status class
	outboundRefused prometheus.Counter

	// Key-value stores (ext_kv.go).
	kvOps     *prometheus.CounterVec   // by store, operation and outcome
	kvLatency *prometheus.HistogramVec // by store and operation
}

// Outcomes of a host-function call, and the function label of a name no
// function is registered under (guests choose names: they must not choose
// series).
const (
	outcomeOK          = "ok"
	outcomeError       = "error"
	outcomeNotFound    = "not_found"
	outcomeConflict    = "conflict" // a compare-and-swap found another value
	outcomeFailed      = "failed"   // a key-value call the store or a limit failed
	unregisteredLabel  = "(unregistered)"
	outboundErrorClass = "error" // no response: the connection or the timeout failed
)

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
	m.functionCalls = m.counterVec("wasmcluster_host_function_calls_total", "Calls guests made to the embedding program's host functions, by function and outcome (ok, error, not_found).", "function", "outcome")
	m.outbound = m.counterVec("wasmcluster_outbound_requests_total", "Outbound HTTP requests guests sent, by destination host and status class (2xx…5xx, or error when no response came).", "host", "class")
	m.outboundRefused = m.counterVec("wasmcluster_outbound_refused_total", "Outbound HTTP requests the allow-list refused.").WithLabelValues()
	m.kvOps = m.counterVec("wasmcluster_kv_operations_total", "Key-value calls guests made, by store, operation (get, set, delete, exists, list, increment, cas) and outcome (ok, not_found, conflict, failed).", "store", "op", "outcome")
	m.kvLatency = register(m.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmcluster_kv_operation_duration_seconds",
		Help:    "How long key-value calls that reached their store took, by store and operation.",
		Buckets: kvLatencyBuckets,
	}, []string{"store", "op"}))
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

// statusClass is "2xx" for 200 to 299, and so on.
func statusClass(code int) string {
	return string(rune('0'+code/100%10)) + "xx"
}

// functionSeries are one host function's two series, found once at New so
// that a call counts without looking up labels.
type functionSeries struct{ ok, failed prometheus.Counter }

// functionSeries returns the series of each function in fns.
func (m *metrics) functionSeries(fns map[string]Function) map[string]functionSeries {
	series := make(map[string]functionSeries, len(fns))
	for name := range fns {
		series[name] = functionSeries{
			ok:     m.functionCalls.WithLabelValues(name, outcomeOK),
			failed: m.functionCalls.WithLabelValues(name, outcomeError),
		}
	}
	return series
}

// kvLatencyBuckets span a store's round trip on loopback (tens of
// microseconds) to a write that waited out another process's lock.
var kvLatencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 10}

// kvSeries are one operation's series on one store, found once at New so
// that a call counts without looking up labels.
type kvSeries struct {
	ok, notFound, conflict, failed prometheus.Counter
	latency                        prometheus.Observer
}

// kvOp is the operation label of a key-value function: kv_get is "get".
func kvOp(function string) string { return strings.TrimPrefix(function, "kv_") }

// kvSeries returns the series of every key-value function on each store,
// by store name and function name. A call that names no store of stores
// counts as failed under the unregistered label.
func (m *metrics) kvSeries(stores map[string]kv.Store) map[string]map[string]*kvSeries {
	all := make(map[string]map[string]*kvSeries, len(stores))
	for name := range stores {
		byFunc := make(map[string]*kvSeries, len(kvFuncs))
		for _, f := range kvFuncs {
			op := kvOp(f.name)
			byFunc[f.name] = &kvSeries{
				ok:       m.kvOps.WithLabelValues(name, op, outcomeOK),
				notFound: m.kvOps.WithLabelValues(name, op, outcomeNotFound),
				conflict: m.kvOps.WithLabelValues(name, op, outcomeConflict),
				failed:   m.kvOps.WithLabelValues(name, op, outcomeFailed),
				latency:  m.kvLatency.WithLabelValues(name, op),
			}
		}
		all[name] = byFunc
	}
	return all
}
