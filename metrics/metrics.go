package metrics

import (
	"net/http"
	"regexp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "ragpipe"

// Buckets of the histograms.
var (
	durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	recordBuckets   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
	byteBuckets     = prometheus.ExponentialBuckets(1<<10, 4, 9) // 1 KiB … 64 MiB
)

// Metrics is one process's metrics: a registry of its own, the vectors the
// stages' hooks update, and the scrape-time collectors. Create it with New,
// add a Stage per engine and the embedding pool with AddPool, and serve it
// with Serve. Safe for concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	recd *recorder

	mu     sync.Mutex
	stages []*Stage
	pools  []HealthSource

	recordsIn       *prometheus.CounterVec
	recordsOut      *prometheus.CounterVec
	produceFailures *prometheus.CounterVec
	recordsDone     *prometheus.CounterVec
	deadLettered    *prometheus.CounterVec
	failures        *prometheus.CounterVec
	commits         *prometheus.CounterVec
	commitFailures  *prometheus.CounterVec
	batchRecords    *prometheus.HistogramVec
	batchBytes      *prometheus.HistogramVec
	handlerSeconds  *prometheus.HistogramVec
	commitSeconds   *prometheus.HistogramVec
	breaker         *prometheus.GaugeVec
	concurrency     *prometheus.GaugeVec
	ready           *prometheus.GaugeVec
}

// New returns Metrics on a new registry, with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.recd = &recorder{reg: m.reg}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
		m.recd.MustRegister(v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
		m.recd.MustRegister(v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
		m.recd.MustRegister(v)
		return v
	}
	m.recordsIn = counter("records_in_total", "Records polled from the stage's input topics.", "stage", "topic")
	m.recordsOut = counter("records_out_total", "Records the stage produced that the broker acknowledged (outputs, DLQ and failure events), by topic.", "stage", "topic")
	m.produceFailures = counter("produce_failures_total", "Records the stage failed to produce, by topic.", "stage", "topic")
	m.recordsDone = counter("records_done_total", "Input records done: every output acknowledged, or dead-lettered.", "stage")
	m.deadLettered = counter("records_dead_lettered_total", "Input records sent to the dead-letter queue, by the class of their last error.", "stage", "class")
	m.failures = counter("record_failures_total", "Failed record attempts, by error class and whether the failure counted towards the record's limit.", "stage", "class", "counted")
	m.commits = counter("commits_total", "Offset commits (transaction ends in exactly-once mode).", "stage")
	m.commitFailures = counter("commit_failures_total", "Offset commits (or transaction ends) that failed.", "stage")
	m.batchRecords = histogram("batch_records", "Records per handled batch.", recordBuckets, "stage")
	m.batchBytes = histogram("batch_bytes", "Bytes of input records per handled batch.", byteBuckets, "stage")
	m.handlerSeconds = histogram("handler_duration_seconds", "Time the stage's handler took per batch.", durationBuckets, "stage")
	m.commitSeconds = histogram("commit_duration_seconds", "Round trip of offset-commit requests (OffsetCommit, or EndTxn in exactly-once mode).", durationBuckets, "stage")
	m.breaker = gauge("breaker_state", "The engine's circuit breaker: 0 closed, 1 open, 2 half-open.", "stage")
	m.concurrency = gauge("concurrency_limit", "The adaptive bound on batches in flight.", "stage")
	m.ready = gauge("ready", "1 when the stage is ready (/readyz): settled in its group and its breaker closed.", "stage")
	m.recd.MustRegister(&statsCollector{m: m})
	m.recd.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry every metric of m is on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Names returns every metric name registered on m so far, sorted: those of
// its own collectors and of the Kafka clients created with a Stage's
// ClientOpts (which register when the client is created). Histograms are
// listed by their base name (their series add _bucket, _sum, _count).
func (m *Metrics) Names() []string { return m.recd.names() }

// recorder is the registry's Registerer that remembers what it registered,
// for Names (a Registry does not list its descriptors).
type recorder struct {
	reg *prometheus.Registry

	mu    sync.Mutex
	colls []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.colls = append(r.colls, c)
	r.mu.Unlock()
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.colls, c); i >= 0 {
		r.colls = slices.Delete(r.colls, i, i+1)
	}
	return r.reg.Unregister(c)
}

// fqName finds a descriptor's name in its String form, the only place
// client_golang exposes it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) names() []string {
	r.mu.Lock()
	colls := slices.Clone(r.colls)
	r.mu.Unlock()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range colls {
			c.Describe(ch)
		}
		close(ch)
	}()
	seen := map[string]bool{}
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			seen[s[1]] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
