package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/fault"
)

// Handler processes a batch of input records and returns one Result per
// record, in batch order.
//
// A batch holds records of several keys; the records of one key are
// consecutive and in offset order. The handler may compute in any order,
// but must report each record's result at its own position.
//
// A non-nil error fails the whole batch. The engine classifies it with
// package fault: a server error retries the batch later with backoff; a
// record or batch error splits the batch and retries the halves until the
// record at fault stands alone (fault.RecordAt names it directly). Per-record
// errors in Result.Err are classified the same way, and count an attempt
// only when they are record errors.
type Handler func(ctx context.Context, batch []*kgo.Record) ([]Result, error)

// Result is the outcome of one input record.
type Result struct {
	// Outputs are produced in order once the record succeeded. A nil Key
	// takes the input record's key; lineage headers are added. The record
	// is done when every output is acknowledged by the broker.
	Outputs []*kgo.Record
	// Err, when set, fails this record only.
	Err error
}

// Failure describes a record that is being dead-lettered.
type Failure struct {
	Stage        string
	Err          error
	Class        fault.Class
	Attempts     int
	FirstFailure time.Time
	LastFailure  time.Time
}

// DeadLetterFunc returns the records to produce for a record that failed
// too often. The record is done once they are acknowledged.
type DeadLetterFunc func(rec *kgo.Record, f Failure) []*kgo.Record

// Fatal marks err as fatal: the engine stops, commits what is done and
// returns err from Run. Use it for configuration errors (a rejected API
// key) that no retry can fix. It is fault.Fatal.
func Fatal(err error) error { return fault.Fatal(err) }

// call runs the handler, turning a panic into a record error: bisection
// then isolates the record that makes the handler panic, and it ends in
// the dead-letter queue instead of crashing the worker on every delivery.
func call(ctx context.Context, h Handler, batch []*kgo.Record) (res []Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fault.Record(fmt.Errorf("handler panicked: %v", p))
		}
	}()
	return h(ctx, batch)
}

// outcome is a record's result and how it came about.
type outcome struct {
	Result
	// start is when the handler call that produced it started.
	start time.Time
	// alone says the record was the only one of that call.
	alone bool
}

// runner calls the handler and isolates failures.
type runner struct {
	h Handler
	// answered reports whether the server answered some request since
	// the given time (or a health probe says it answers now): evidence
	// that a server error is the request's own, not an outage. Nil: never.
	answered func(ctx context.Context, since time.Time) bool
	// onAnswer is called when a call returns without a server error.
	onAnswer func()
}

// run calls the handler and isolates failures. A batch that fails as a
// whole for a record or batch reason is split until the failing record
// stands alone, so that only that record counts an attempt. A batch that
// fails with a server error is split the same way only when the server
// answered other requests meanwhile (answered): then the error is likely
// the request's own (a toxic input, a random 500, a dropped connection),
// and splitting keeps the neighbours of a toxic record from failing with
// it; during an outage nothing is split and the batch waits whole. A
// per-record batch-class result of a larger batch is retried alone.
func (r runner) run(ctx context.Context, batch []*kgo.Record) []outcome {
	start := time.Now()
	res, err := call(ctx, r.h, batch)
	if err == nil && len(res) != len(batch) {
		err = Fatal(errors.New("engine: handler returned a result count different from the batch size"))
	}
	out := make([]outcome, len(batch))
	if err == nil {
		r.answer()
		for i := range res {
			out[i] = outcome{Result: res[i], start: start, alone: len(batch) == 1}
		}
		if len(batch) > 1 {
			for i := range out {
				if out[i].Err != nil && fault.ClassOf(out[i].Err) == fault.ClassBatch && ctx.Err() == nil {
					out[i] = r.run(ctx, batch[i:i+1])[0]
				}
			}
		}
		return out
	}
	class := fault.ClassOf(err)
	if class != fault.ClassServer && !fault.IsFatal(err) {
		r.answer() // a record or batch error is an answer too
	}
	split := len(batch) > 1 && !fault.IsFatal(err) && ctx.Err() == nil &&
		(class != fault.ClassServer || (r.answered != nil && r.answered(ctx, start)))
	if !split {
		for i := range out {
			out[i] = outcome{Result: Result{Err: err}, start: start, alone: len(batch) == 1}
		}
		return out
	}
	if i := fault.IndexOf(err); class == fault.ClassRecord && i >= 0 && i < len(batch) {
		// The server named the culprit: retry the others without it.
		out[i] = outcome{Result: Result{Err: err}, start: start, alone: true}
		if i > 0 {
			copy(out[:i], r.run(ctx, batch[:i]))
		}
		if i+1 < len(batch) {
			copy(out[i+1:], r.run(ctx, batch[i+1:]))
		}
		return out
	}
	mid := len(batch) / 2
	copy(out[:mid], r.run(ctx, batch[:mid]))
	copy(out[mid:], r.run(ctx, batch[mid:]))
	return out
}

func (r runner) answer() {
	if r.onAnswer != nil {
		r.onAnswer()
	}
}

// run is runner{h: h}.run with plain results, for tests.
func run(ctx context.Context, h Handler, batch []*kgo.Record) []Result {
	outs := runner{h: h}.run(ctx, batch)
	res := make([]Result, len(outs))
	for i, o := range outs {
		res[i] = o.Result
	}
	return res
}
