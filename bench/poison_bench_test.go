package bench

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/fault"
)

// BenchmarkPoisonedDocument measures what one poisoned document costs the
// others: 1,000 documents of 20 chunks on 6 partitions, the GPU model of
// BenchmarkOrdering, and one chunk of one document rejected on every
// attempt (3 attempts with backoff, then the dead-letter queue). The key
// fence holds back only that document, so the others keep their pace.
func BenchmarkPoisonedDocument(b *testing.B) {
	const docs, chunks = 1000, 20
	// run returns the time until every record of the other documents is
	// done: their throughput is what the poisoned document may cost.
	run := func(b *testing.B, poison bool) time.Duration {
		c := newCluster(b, 6, "in", "out", "dlq")
		c.produce(b, "in", docs, chunks, 400)
		var done atomic.Int64
		g := newGPU(20*time.Millisecond, 100*time.Microsecond, 4)
		bad := []byte("7:10:") // document 7, chunk 10
		var mu sync.Mutex
		others := map[string]bool{}
		var start, lastOther time.Time
		onRecord := func(r *kgo.Record) {
			if bytes.HasPrefix(r.Value, []byte("7:")) {
				return
			}
			mu.Lock()
			if !others[string(r.Value[:12])] {
				others[string(r.Value[:12])] = true
				lastOther = time.Now()
			}
			mu.Unlock()
		}
		inner := g.handler("out", &done, onRecord)
		h := func(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
			mu.Lock()
			if start.IsZero() {
				start = time.Now()
			}
			mu.Unlock()
			if poison {
				for i, r := range batch {
					if bytes.HasPrefix(r.Value, bad) {
						// The server rejects the whole request for this input.
						g.slots <- struct{}{}
						time.Sleep(g.base)
						<-g.slots
						return nil, fault.RecordAt(i, errors.New("rejected"))
					}
				}
			}
			return inner(ctx, batch)
		}
		var dead atomic.Int64
		_, _ = runUntil(b, engine.Config{
			Group: "bench", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)},
			Handler: h, BatchMaxRecords: 64, MaxInFlightBatches: 8,
			DeadLetter: func(r *kgo.Record, _ engine.Failure) []*kgo.Record {
				dead.Add(1)
				return []*kgo.Record{{Topic: "dlq", Value: r.Value}}
			},
		}, &done, docs*chunks)
		if poison && dead.Load() != 1 {
			b.Fatalf("%d records dead-lettered, want 1", dead.Load())
		}
		if len(others) != (docs-1)*chunks {
			b.Fatalf("%d records of other documents, want %d", len(others), (docs-1)*chunks)
		}
		return lastOther.Sub(start)
	}
	var clean, poisoned time.Duration
	for range b.N {
		clean += run(b, false)
		poisoned += run(b, true)
	}
	b.ReportMetric(float64((docs-1)*chunks*b.N)/clean.Seconds(), "others-records/s-clean")
	b.ReportMetric(float64((docs-1)*chunks*b.N)/poisoned.Seconds(), "others-records/s-poisoned")
	b.ReportMetric(100*(poisoned.Seconds()-clean.Seconds())/clean.Seconds(), "overhead-%")
}
