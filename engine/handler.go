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

// fatalError marks an error after which the worker must stop.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

// Fatal marks err as fatal: the engine stops, commits what is done and
// returns err from Run. Use it for configuration errors (a rejected API
// key) that no retry can fix.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err: err}
}

func isFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

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

// run calls the handler and isolates failures: a batch that fails as a
// whole for a record or batch reason is split until the failing record
// stands alone, so that only that record counts an attempt.
func run(ctx context.Context, h Handler, batch []*kgo.Record) []Result {
	res, err := call(ctx, h, batch)
	if err == nil {
		if len(res) != len(batch) {
			err = Fatal(errors.New("engine: handler returned a result count different from the batch size"))
		} else {
			return res
		}
	}
	out := make([]Result, len(batch))
	class := fault.ClassOf(err)
	switch {
	case isFatal(err) || class == fault.ClassServer || len(batch) == 1:
		for i := range out {
			out[i].Err = err
		}
	default:
		if i := fault.IndexOf(err); class == fault.ClassRecord && i >= 0 && i < len(batch) {
			// The server named the culprit: retry the others without it.
			out[i].Err = err
			if i > 0 {
				copy(out[:i], run(ctx, h, batch[:i]))
			}
			if i+1 < len(batch) {
				copy(out[i+1:], run(ctx, h, batch[i+1:]))
			}
			return out
		}
		mid := len(batch) / 2
		copy(out[:mid], run(ctx, h, batch[:mid]))
		copy(out[mid:], run(ctx, h, batch[mid:]))
	}
	return out
}
