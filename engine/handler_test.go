package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"pgregory.net/rapid"

	"github.com/ragpipe/ragpipe/fault"
)

// A batch rejected as a whole is split until each poison record stands
// alone: exactly the poison records fail, everything else succeeds.
func TestBisectionIsolatesPoison(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 64).Draw(t, "n")
		poison := map[int]bool{}
		for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, n-1), 0, 3, rapid.ID[int]).Draw(t, "poison") {
			poison[i] = true
		}
		named := rapid.Bool().Draw(t, "server names the index")
		batch := make([]*kgo.Record, n)
		for i := range batch {
			batch[i] = &kgo.Record{Offset: int64(i)}
		}
		calls := 0
		h := func(_ context.Context, b []*kgo.Record) ([]Result, error) {
			calls++
			for i, r := range b {
				if poison[int(r.Offset)] {
					if named {
						return nil, fault.RecordAt(i, errors.New("bad input"))
					}
					return nil, fault.Record(errors.New("bad input somewhere"))
				}
			}
			return make([]Result, len(b)), nil
		}
		res := run(context.Background(), h, batch)
		for i, r := range res {
			if (r.Err != nil) != poison[i] {
				t.Fatalf("record %d: err=%v poison=%v", i, r.Err, poison[i])
			}
			if r.Err != nil && fault.ClassOf(r.Err) != fault.ClassRecord {
				t.Fatalf("record %d: class %v", i, fault.ClassOf(r.Err))
			}
		}
		if limit := 1 + 4*len(poison)*bitsLen(n); calls > limit {
			t.Fatalf("%d handler calls for %d records and %d poison, want at most %d", calls, n, len(poison), limit)
		}
	})
}

// A server error fails the whole batch without splitting it.
func TestServerErrorIsNotSplit(t *testing.T) {
	calls := 0
	h := func(context.Context, []*kgo.Record) ([]Result, error) {
		calls++
		return nil, fault.Server(errors.New("503"), 0)
	}
	res := run(context.Background(), h, make([]*kgo.Record, 8))
	if calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
	for _, r := range res {
		if fault.ClassOf(r.Err) != fault.ClassServer {
			t.Fatalf("class %v", fault.ClassOf(r.Err))
		}
	}
}

func bitsLen(n int) int {
	b := 1
	for n > 1 {
		n /= 2
		b++
	}
	return b
}

// A handler that panics on one record does not crash the worker: the panic
// becomes a record error, and bisection pins it on that record alone.
func TestPanicIsARecordErrorOnTheRecord(t *testing.T) {
	batch := make([]*kgo.Record, 6)
	for i := range batch {
		batch[i] = &kgo.Record{Offset: int64(i)}
	}
	h := func(_ context.Context, b []*kgo.Record) ([]Result, error) {
		for _, r := range b {
			if r.Offset == 4 {
				panic("nil map write")
			}
		}
		return make([]Result, len(b)), nil
	}
	res := run(context.Background(), h, batch)
	for i, r := range res {
		if (r.Err != nil) != (i == 4) {
			t.Fatalf("record %d: err %v", i, r.Err)
		}
	}
	if fault.ClassOf(res[4].Err) != fault.ClassRecord {
		t.Fatalf("class %v", fault.ClassOf(res[4].Err))
	}
}
