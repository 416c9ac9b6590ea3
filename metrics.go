package wasmcluster

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// primaryMetrics is what the primary's /metrics serves: its own series
// (reloads, the workers' figures, its process and Go runtime) and the
// sum of what every worker reports, labelled by worker slot.
type primaryMetrics struct {
	reg     *prometheus.Registry
	reloads *prometheus.CounterVec
	workers *workerMetrics
	slots   *slotCollector
}

func newPrimaryMetrics() *primaryMetrics {
	m := &primaryMetrics{
		reg: prometheus.NewRegistry(),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcluster_reloads_total",
			Help: "Reloads (SIGHUP) by outcome: ok, refused (the module did not load) or failed (its workers did not start).",
		}, []string{"outcome"}),
		workers: &workerMetrics{live: map[int]*workerReport{}, base: map[int]familySet{}},
		slots:   &slotCollector{seen: map[int]*slotTotals{}},
	}
	for _, outcome := range []string{"ok", "refused", "failed"} {
		m.reloads.WithLabelValues(outcome)
	}
	m.reg.MustRegister(m.reloads, m.workers, m.slots,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setSource gives the slot collector the primary whose figures it reads.
func (m *primaryMetrics) setSource(p workerSource) {
	m.slots.mu.Lock()
	m.slots.source = p
	m.slots.mu.Unlock()
}

// workerSource is what the admin endpoints and metrics read of a Primary.
type workerSource interface {
	Workers() []dispatcher.WorkerStats
	Ready() bool
}

// slotCollector turns the primary's figures for each worker slot into
// series labelled by slot. A reload starts the slots' counts again; the
// collector adds what the previous generation had counted, so that the
// series only grow.
type slotCollector struct {
	mu     sync.Mutex
	source workerSource
	seen   map[int]*slotTotals
}

// slotTotals are one slot's counts as last seen, and what earlier
// generations of the slot had counted.
type slotTotals struct {
	generation                   int
	handed, restarts             uint64
	earlierHanded, earlierRestar uint64
}

var (
	slotUpDesc       = prometheus.NewDesc("wasmcluster_worker_up", "Whether the worker in the slot serves (1) or not (0).", []string{"worker"}, nil)
	slotActiveDesc   = prometheus.NewDesc("wasmcluster_worker_connections_active", "Live connections of the worker in the slot.", []string{"worker"}, nil)
	slotHandedDesc   = prometheus.NewDesc("wasmcluster_worker_connections_handed_total", "Connections handed to the workers of the slot.", []string{"worker"}, nil)
	slotRestartsDesc = prometheus.NewDesc("wasmcluster_worker_restarts_total", "Times a worker of the slot was replaced after it exited.", []string{"worker"}, nil)
	standbyUpDesc    = prometheus.NewDesc("wasmcluster_standby_up", "Whether a standby worker is ready to take the place of one that dies.", nil, nil)
)

// Describe sends the series' descriptions.
func (c *slotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{slotUpDesc, slotActiveDesc, slotHandedDesc, slotRestartsDesc, standbyUpDesc} {
		ch <- d
	}
}

// Collect sends the figures of every slot.
func (c *slotCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.source == nil {
		return
	}
	standby := 0.0
	for _, ws := range c.source.Workers() {
		if ws.Role == dispatcher.RoleStandby {
			standby = float64(boolInt(ws.Ready))
			continue
		}
		t := c.seen[ws.ID]
		if t == nil {
			t = &slotTotals{generation: ws.Generation}
			c.seen[ws.ID] = t
		}
		if ws.Generation != t.generation {
			t.earlierHanded += t.handed
			t.earlierRestar += t.restarts
			t.generation = ws.Generation
		}
		t.handed, t.restarts = ws.Handed, uint64(ws.Restarts)
		slot := strconv.Itoa(ws.ID)
		ch <- prometheus.MustNewConstMetric(slotUpDesc, prometheus.GaugeValue, float64(boolInt(ws.Ready)), slot)
		ch <- prometheus.MustNewConstMetric(slotActiveDesc, prometheus.GaugeValue, float64(ws.Active), slot)
		ch <- prometheus.MustNewConstMetric(slotHandedDesc, prometheus.CounterValue, float64(t.earlierHanded+t.handed), slot)
		ch <- prometheus.MustNewConstMetric(slotRestartsDesc, prometheus.CounterValue, float64(t.earlierRestar+t.restarts), slot)
	}
	ch <- prometheus.MustNewConstMetric(standbyUpDesc, prometheus.GaugeValue, standby)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// workerMetrics adds up what the workers report (dispatcher.ReportSink):
// each worker process sends all its series every 100 ms, and the sum for
// a slot is what its live processes sent last plus, for counters and
// histograms, what its exited processes had sent last. So a series
// labelled by slot never goes back when a worker is replaced or the
// cluster reloads, and a series a worker adds (a capability's) appears
// with no change here. Gauges count live processes only. A standby's
// series appear once it takes a slot.
type workerMetrics struct {
	mu   sync.Mutex
	live map[int]*workerReport // by pid
	base map[int]familySet     // by slot: exited processes' counts
}

// workerReport is the last report of one worker process.
type workerReport struct {
	slot     int
	families []*dto.MetricFamily
}

// Report keeps the latest report of a worker process.
func (m *workerMetrics) Report(slot, pid int, data []byte) {
	families, err := decodeFamilies(data)
	if err != nil {
		return // a worker of another version, or a bug: its figures are lost, not the primary
	}
	m.mu.Lock()
	m.live[pid] = &workerReport{slot: slot, families: families}
	m.mu.Unlock()
}

// Exited folds a gone worker's counts into its slot's.
func (m *workerMetrics) Exited(slot, pid int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.live[pid]
	delete(m.live, pid)
	if r == nil || slot == 0 {
		return
	}
	if m.base[slot] == nil {
		m.base[slot] = familySet{}
	}
	m.base[slot].add(r.families, false)
}

// Describe describes nothing: the series are whatever workers report,
// which the registry then checks as it gathers them.
func (m *workerMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect sends every slot's sums.
func (m *workerMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	sums := map[int]familySet{}
	for slot, base := range m.base {
		sums[slot] = familySet{}
		sums[slot].addSet(base)
	}
	for _, r := range m.live {
		if r.slot == 0 {
			continue
		}
		if sums[r.slot] == nil {
			sums[r.slot] = familySet{}
		}
		sums[r.slot].add(r.families, true)
	}
	m.mu.Unlock()
	for _, slot := range slices.Sorted(maps.Keys(sums)) {
		sums[slot].collect(ch, strconv.Itoa(slot))
	}
}

func decodeFamilies(data []byte) ([]*dto.MetricFamily, error) {
	dec := expfmt.NewDecoder(bytes.NewReader(data), expfmt.NewFormat(expfmt.TypeProtoDelim))
	var families []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return families, nil
		}
		if err != nil {
			return nil, err
		}
		families = append(families, mf)
	}
}

// familySet is a sum of reported series, by family name.
type familySet map[string]*family

// family is one metric family's sums, by label set.
type family struct {
	name, help string
	typ        dto.MetricType
	series     map[string]*series
}

// series is one summed series: value for a counter or gauge, count, sum
// and cumulative bucket counts for a histogram.
type series struct {
	labels  []*dto.LabelPair
	value   float64
	count   uint64
	sum     float64
	buckets map[float64]uint64
}

// add adds reported families to the set; gauges only if withGauges.
// Summaries and untyped series are left out.
func (fs familySet) add(families []*dto.MetricFamily, withGauges bool) {
	for _, mf := range families {
		typ := mf.GetType()
		switch {
		case typ == dto.MetricType_COUNTER, typ == dto.MetricType_HISTOGRAM:
		case typ == dto.MetricType_GAUGE && withGauges:
		default:
			continue
		}
		f := fs[mf.GetName()]
		if f == nil {
			f = &family{name: mf.GetName(), help: mf.GetHelp(), typ: typ, series: map[string]*series{}}
			fs[f.name] = f
		}
		if f.typ != typ {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := labelKey(m.GetLabel())
			s := f.series[key]
			if s == nil {
				s = &series{labels: m.GetLabel(), buckets: map[float64]uint64{}}
				f.series[key] = s
			}
			switch typ {
			case dto.MetricType_COUNTER:
				s.value += m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s.value += m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				s.count += h.GetSampleCount()
				s.sum += h.GetSampleSum()
				for _, b := range h.GetBucket() {
					s.buckets[b.GetUpperBound()] += b.GetCumulativeCount()
				}
			}
		}
	}
}

// addSet adds another set's sums to this one.
func (fs familySet) addSet(other familySet) {
	for name, of := range other {
		f := fs[name]
		if f == nil {
			f = &family{name: of.name, help: of.help, typ: of.typ, series: map[string]*series{}}
			fs[name] = f
		}
		for key, o := range of.series {
			s := f.series[key]
			if s == nil {
				s = &series{labels: o.labels, buckets: map[float64]uint64{}}
				f.series[key] = s
			}
			s.value += o.value
			s.count += o.count
			s.sum += o.sum
			for le, n := range o.buckets {
				s.buckets[le] += n
			}
		}
	}
}

// collect sends the set's series with the worker label added.
func (fs familySet) collect(ch chan<- prometheus.Metric, slot string) {
	for _, f := range fs {
		for _, s := range f.series {
			names := make([]string, 0, len(s.labels)+1)
			values := make([]string, 0, len(s.labels)+1)
			for _, lp := range s.labels {
				names = append(names, lp.GetName())
				values = append(values, lp.GetValue())
			}
			names = append(names, "worker")
			values = append(values, slot)
			desc := prometheus.NewDesc(f.name, f.help, names, nil)
			var m prometheus.Metric
			var err error
			switch f.typ {
			case dto.MetricType_COUNTER:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, s.value, values...)
			case dto.MetricType_GAUGE:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.value, values...)
			case dto.MetricType_HISTOGRAM:
				m, err = prometheus.NewConstHistogram(desc, s.count, s.sum, s.buckets, values...)
			}
			if err == nil {
				ch <- m
			} else {
				ch <- prometheus.NewInvalidMetric(desc, err)
			}
		}
	}
}

// labelKey names a label set.
func labelKey(labels []*dto.LabelPair) string {
	var b strings.Builder
	for _, lp := range labels {
		b.WriteString(lp.GetName())
		b.WriteByte('=')
		b.WriteString(lp.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}
