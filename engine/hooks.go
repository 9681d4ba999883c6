package engine

import (
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// Hook is a value that implements one or more of the Hook interfaces in
// this file, such as a metrics collector. The engine calls every method a
// hook implements, from its own goroutines: methods must be safe for
// concurrent use and must not block. New events come as new interfaces, and
// each event is a struct that may gain fields, so a hook written today keeps
// compiling (the pattern of franz-go's kgo.Hook).
type Hook any

// BatchHandled describes a batch whose handler call returned.
type BatchHandled struct {
	Records int
	Bytes   int
	Took    time.Duration
	// Failed counts the records whose result was an error, by class.
	Failed map[fault.Class]int
}

// RecordFailed describes one failed attempt of a record.
type RecordFailed struct {
	Topic     string
	Partition int32
	Offset    int64
	Class     fault.Class
	// Counted says whether the failure counts towards the record's limit
	// (MaxAttempts, or MaxServerFailures for a record that fails alone
	// while the server answers others).
	Counted bool
	Err     error
}

// Committed describes an offset commit (or, in exactly-once mode, a
// transaction's end).
type Committed struct {
	Took time.Duration
	Err  error
}

// PartitionPaused describes fetching of a partition pausing or resuming
// for the memory bound.
type PartitionPaused struct {
	Topic     string
	Partition int32
	Paused    bool
}

// HookBatchHandled is called after the handler returned for a batch.
type HookBatchHandled interface{ OnBatchHandled(BatchHandled) }

// HookRecordFailed is called for each failed record attempt.
type HookRecordFailed interface{ OnRecordFailed(RecordFailed) }

// HookRecordDeadLettered is called when a record goes to the DLQ.
type HookRecordDeadLettered interface{ OnRecordDeadLettered(RecordFailed) }

// HookRecordsDone is called when records become done.
type HookRecordsDone interface{ OnRecordsDone(n int) }

// HookCommitted is called after each offset commit.
type HookCommitted interface{ OnCommitted(Committed) }

// HookPartitionPaused is called when fetching a partition pauses or
// resumes.
type HookPartitionPaused interface{ OnPartitionPaused(PartitionPaused) }

// HookBreakerChanged is called when the circuit breaker changes state
// ("closed", "open", "half-open").
type HookBreakerChanged interface{ OnBreakerChanged(state string) }

// HookConcurrencyLimit is called when the adaptive bound on batches in
// flight changes.
type HookConcurrencyLimit interface{ OnConcurrencyLimit(n int) }

// HookAssigned is called after partitions are assigned, revoked or lost,
// with the number of partitions the member now holds.
type HookAssigned interface{ OnAssigned(partitions int) }

// hooks calls the hooks that implement each event.
type hooks []Hook

// each calls f on every hook that implements H.
func each[H any](hs hooks, f func(H)) {
	for _, h := range hs {
		if x, ok := h.(H); ok {
			f(x)
		}
	}
}

func (hs hooks) batchHandled(ev BatchHandled) {
	each(hs, func(h HookBatchHandled) { h.OnBatchHandled(ev) })
}
func (hs hooks) recordFailed(ev RecordFailed) {
	each(hs, func(h HookRecordFailed) { h.OnRecordFailed(ev) })
}
func (hs hooks) recordDeadLettered(ev RecordFailed) {
	each(hs, func(h HookRecordDeadLettered) { h.OnRecordDeadLettered(ev) })
}
func (hs hooks) recordsDone(n int)      { each(hs, func(h HookRecordsDone) { h.OnRecordsDone(n) }) }
func (hs hooks) committed(ev Committed) { each(hs, func(h HookCommitted) { h.OnCommitted(ev) }) }
func (hs hooks) partitionPaused(ev PartitionPaused) {
	each(hs, func(h HookPartitionPaused) { h.OnPartitionPaused(ev) })
}
func (hs hooks) breakerChanged(state string) {
	each(hs, func(h HookBreakerChanged) { h.OnBreakerChanged(state) })
}
func (hs hooks) concurrencyLimit(n int) {
	each(hs, func(h HookConcurrencyLimit) { h.OnConcurrencyLimit(n) })
}
func (hs hooks) assigned(n int) { each(hs, func(h HookAssigned) { h.OnAssigned(n) }) }
