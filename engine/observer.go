package engine

import (
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// Observer receives engine events, for metrics. Methods are called from the
// engine's goroutines and must not block.
type Observer interface {
	// BatchHandled is called after the handler returned for a batch.
	BatchHandled(records, bytes int, took time.Duration)
	// RecordFailed is called for each failed record attempt.
	RecordFailed(class fault.Class)
	// RecordDeadLettered is called when a record goes to the DLQ.
	RecordDeadLettered()
	// RecordsDone is called when records become done.
	RecordsDone(n int)
	// Committed is called after each offset commit.
	Committed(took time.Duration, err error)
	// PartitionPaused is called when fetching a partition pauses or resumes.
	PartitionPaused(topic string, partition int32, paused bool)
	// BreakerChanged is called when the circuit breaker changes state
	// ("closed", "open", "half-open").
	BreakerChanged(state string)
	// ConcurrencyLimit is called when the adaptive bound on batches in
	// flight changes.
	ConcurrencyLimit(n int)
}

type nopObserver struct{}

func (nopObserver) BatchHandled(int, int, time.Duration) {}
func (nopObserver) RecordFailed(fault.Class)             {}
func (nopObserver) RecordDeadLettered()                  {}
func (nopObserver) RecordsDone(int)                      {}
func (nopObserver) Committed(time.Duration, error)       {}
func (nopObserver) PartitionPaused(string, int32, bool)  {}
func (nopObserver) BreakerChanged(string)                {}
func (nopObserver) ConcurrencyLimit(int)                 {}
