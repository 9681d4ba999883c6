package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		err   error
		class Class
		index int
		after time.Duration
	}{
		{Record(base), ClassRecord, -1, 0},
		{RecordAt(3, base), ClassRecord, 3, 0},
		{Batch(base), ClassBatch, -1, 0},
		{Server(base, 2*time.Second), ClassServer, -1, 2 * time.Second},
		{Fatal(base), ClassFatal, -1, 0},
		{fmt.Errorf("wrapped: %w", Fatal(base)), ClassFatal, -1, 0},
		{base, ClassServer, -1, 0}, // unclassified: retried, never dead-lettered
		{fmt.Errorf("wrapped: %w", RecordAt(1, base)), ClassRecord, 1, 0},
		{RecordAt(2, Server(base, time.Second)), ClassRecord, 2, 0}, // the outer class wins
	}
	for _, c := range cases {
		if got := ClassOf(c.err); got != c.class {
			t.Errorf("%v: class %v, want %v", c.err, got, c.class)
		}
		if got := IndexOf(c.err); got != c.index {
			t.Errorf("%v: index %d, want %d", c.err, got, c.index)
		}
		if got := RetryAfterOf(c.err); got != c.after {
			t.Errorf("%v: retry-after %v, want %v", c.err, got, c.after)
		}
		if !errors.Is(c.err, base) {
			t.Errorf("%v does not wrap the cause", c.err)
		}
	}
	if Record(nil) != nil || Server(nil, 0) != nil || Fatal(nil) != nil {
		t.Error("wrapping nil must give nil")
	}
	if !IsCanceled(fmt.Errorf("x: %w", context.Canceled)) || IsCanceled(base) {
		t.Error("IsCanceled")
	}
	if ClassRecord.String() != "record" || ClassBatch.String() != "batch" || ClassServer.String() != "server" ||
		ClassFatal.String() != "fatal" {
		t.Error("class names are a contract (dead-letter headers)")
	}
	var zero Class
	if zero != ClassServer {
		t.Error("the zero Class must be ClassServer")
	}
	if !IsFatal(Fatal(base)) || IsFatal(base) || IsFatal(Server(base, 0)) {
		t.Error("IsFatal")
	}
}
