package bench

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/engine"
)

// BenchmarkOrdering: one partition carrying 500 documents of 40 chunks, a
// GPU of 4 slots at 20ms + 0.1ms per chunk. Key ordering runs many batches
// of different documents at once; partition ordering runs one.
func BenchmarkOrdering(b *testing.B) {
	for _, tc := range []struct {
		name string
		ord  engine.Ordering
		gpu  func() *gpu
	}{
		{"key", engine.OrderKey, func() *gpu { return newGPU(20*time.Millisecond, 100*time.Microsecond, 4) }},
		{"partition", engine.OrderPartition, func() *gpu { return newGPU(20*time.Millisecond, 100*time.Microsecond, 4) }},
		// No GPU cost at all: what the engine itself sustains.
		{"key-engine-only", engine.OrderKey, func() *gpu { return newGPU(0, 0, 8) }},
	} {
		ord := tc.ord
		b.Run(tc.name, func(b *testing.B) {
			const docs, chunks = 500, 40
			var total time.Duration
			for range b.N {
				c := newCluster(b, 1, "in", "out")
				c.produce(b, "in", docs, chunks, 400)
				var done atomic.Int64
				g := tc.gpu()
				took, _ := runUntil(b, engine.Config{
					Group: "bench", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)},
					Handler: g.handler("out", &done, nil), Ordering: ord, BatchMaxRecords: 64, MaxInFlightBatches: 8,
				}, &done, docs*chunks)
				total += took
			}
			perSec := float64(docs*chunks*b.N) / total.Seconds()
			b.ReportMetric(perSec, "records/s")
			b.ReportMetric(perSec*60, "records/min")
		})
	}
}

// BenchmarkDocumentLatency: the time until every chunk of one document is
// done, for a 200-chunk and a 1-chunk document, each alone on the topic,
// with batches of 64 on a GPU at 20ms + 0.2ms per chunk. A 200-chunk
// document costs ceil(200/64) = 4 round trips, not 200.
func BenchmarkDocumentLatency(b *testing.B) {
	for _, chunks := range []int{1, 200} {
		b.Run(strings.Repeat("", 0)+itoa(chunks)+"-chunks", func(b *testing.B) {
			var total time.Duration
			for range b.N {
				c := newCluster(b, 1, "in", "out")
				c.produce(b, "in", 1, chunks, 400)
				var done atomic.Int64
				g := newGPU(20*time.Millisecond, 200*time.Microsecond, 4)
				var first, last time.Time
				var mu sync.Mutex
				inner := g.handler("out", &done, nil)
				h := func(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
					mu.Lock()
					if first.IsZero() {
						first = time.Now()
					}
					mu.Unlock()
					res, err := inner(ctx, batch)
					mu.Lock()
					last = time.Now()
					mu.Unlock()
					return res, err
				}
				_, _ = runUntil(b, engine.Config{
					Group: "bench", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)},
					Handler: h, BatchMaxRecords: 64, MaxInFlightBatches: 8,
				}, &done, int64(chunks))
				// From the start of the document's first batch to its last result.
				total += last.Sub(first)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/doc")
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
