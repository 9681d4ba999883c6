package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/fault"
)

// StatsSource is what a Stage reads at scrape time: an *engine.Engine.
type StatsSource interface {
	Stats() engine.Stats
}

// Breaker states as the engine names them (engine.HookBreakerChanged), and
// their values in ragpipe_breaker_state.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

func breakerValue(state string) float64 {
	switch state {
	case BreakerOpen:
		return 1
	case BreakerHalfOpen:
		return 2
	}
	return 0
}

// Stage is the metrics of one engine: pass it in engine.Config.Hooks, add
// ClientOpts to engine.Config.ClientOpts, and Bind the engine once built.
// It implements every engine hook.
type Stage struct {
	m    *Metrics
	name string

	done, commits, commitFails prometheus.Counter
	batchRecords, batchBytes   prometheus.Observer
	handler, commitLatency     prometheus.Observer
	breakerGauge               prometheus.Gauge
	readyGauge                 prometheus.Gauge

	mu       sync.Mutex
	src      StatsSource
	settled  bool   // the member has settled in its group at least once
	parts    int    // partitions held, from the last assignment event
	breaker  string // the engine's breaker state
	stopping bool
}

// Stage adds the metrics of an engine running the named stage ("embed",
// "index").
func (m *Metrics) Stage(name string) *Stage {
	s := &Stage{
		m: m, name: name, breaker: BreakerClosed,
		done:          m.recordsDone.WithLabelValues(name),
		commits:       m.commits.WithLabelValues(name),
		commitFails:   m.commitFailures.WithLabelValues(name),
		batchRecords:  m.batchRecords.WithLabelValues(name),
		batchBytes:    m.batchBytes.WithLabelValues(name),
		handler:       m.handlerSeconds.WithLabelValues(name),
		commitLatency: m.commitSeconds.WithLabelValues(name),
		breakerGauge:  m.breaker.WithLabelValues(name),
		readyGauge:    m.ready.WithLabelValues(name),
	}
	m.mu.Lock()
	m.stages = append(m.stages, s)
	m.mu.Unlock()
	return s
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// Bind sets the engine whose Stats are read at scrape time.
func (s *Stage) Bind(src StatsSource) {
	s.mu.Lock()
	s.src = src
	s.mu.Unlock()
}

// Stopping marks the stage as shutting down: it is no longer ready.
func (s *Stage) Stopping() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.readyGauge.Set(0)
}

// Ready reports whether the stage is ready, and when not, why.
func (s *Stage) Ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyLocked()
}

func (s *Stage) readyLocked() (bool, string) {
	switch {
	case s.stopping:
		return false, s.name + ": shutting down"
	case !s.settled:
		return false, s.name + ": not settled in its consumer group yet"
	case s.breaker != BreakerClosed:
		return false, s.name + ": circuit breaker " + s.breaker + " (the server fails; intake paused)"
	}
	return true, s.name + ": ready (" + strconv.Itoa(s.parts) + " partitions)"
}

func (s *Stage) updateReadyLocked() {
	ok, _ := s.readyLocked()
	s.readyGauge.Set(btof(ok))
}

func btof(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *Stage) stats() (engine.Stats, bool) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src == nil {
		return engine.Stats{}, false
	}
	return src.Stats(), true
}

// OnBatchHandled implements engine.HookBatchHandled.
func (s *Stage) OnBatchHandled(ev engine.BatchHandled) {
	s.batchRecords.Observe(float64(ev.Records))
	s.batchBytes.Observe(float64(ev.Bytes))
	s.handler.Observe(ev.Took.Seconds())
}

// OnRecordFailed implements engine.HookRecordFailed.
func (s *Stage) OnRecordFailed(ev engine.RecordFailed) {
	s.m.failures.WithLabelValues(s.name, className(ev.Class), strconv.FormatBool(ev.Counted)).Inc()
}

// OnRecordDeadLettered implements engine.HookRecordDeadLettered.
func (s *Stage) OnRecordDeadLettered(ev engine.RecordFailed) {
	s.m.deadLettered.WithLabelValues(s.name, className(ev.Class)).Inc()
}

// OnRecordsDone implements engine.HookRecordsDone.
func (s *Stage) OnRecordsDone(n int) { s.done.Add(float64(n)) }

// OnCommitted implements engine.HookCommitted. Commit latency is measured
// per request by the client hook (kafka.go), which also sees the periodic
// commits whose duration the engine does not report.
func (s *Stage) OnCommitted(ev engine.Committed) {
	s.commits.Inc()
	if ev.Err != nil {
		s.commitFails.Inc()
	}
}

// OnPartitionPaused implements engine.HookPartitionPaused. The paused
// partitions are read from Stats at scrape time; the event needs no state.
func (s *Stage) OnPartitionPaused(engine.PartitionPaused) {}

// OnBreakerChanged implements engine.HookBreakerChanged.
func (s *Stage) OnBreakerChanged(state string) {
	s.breakerGauge.Set(breakerValue(state))
	s.mu.Lock()
	s.breaker = state
	s.updateReadyLocked()
	s.mu.Unlock()
}

// OnConcurrencyLimit implements engine.HookConcurrencyLimit.
// The engine reports its starting value when it starts, then each change.
func (s *Stage) OnConcurrencyLimit(n int) { s.m.concurrency.WithLabelValues(s.name).Set(float64(n)) }

// OnAssigned implements engine.HookAssigned: the engine calls it at the end
// of every rebalance, also when nothing was assigned to the member.
func (s *Stage) OnAssigned(partitions int) {
	s.mu.Lock()
	s.settled, s.parts = true, partitions
	s.updateReadyLocked()
	s.mu.Unlock()
}

func className(c fault.Class) string { return c.String() }

var (
	_ engine.HookBatchHandled       = (*Stage)(nil)
	_ engine.HookRecordFailed       = (*Stage)(nil)
	_ engine.HookRecordDeadLettered = (*Stage)(nil)
	_ engine.HookRecordsDone        = (*Stage)(nil)
	_ engine.HookCommitted          = (*Stage)(nil)
	_ engine.HookPartitionPaused    = (*Stage)(nil)
	_ engine.HookBreakerChanged     = (*Stage)(nil)
	_ engine.HookConcurrencyLimit   = (*Stage)(nil)
	_ engine.HookAssigned           = (*Stage)(nil)
)
