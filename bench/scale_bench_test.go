package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/engine"
)

// BenchmarkManyWorkers simulates a large deployment in one process on the
// embedded broker: a 300-partition topic, 30 workers (each its own group
// member and client) consuming a stream of documents while 10 of them
// leave and then 10 new ones join. It reports, from the output topic's
// record timestamps, the longest stall of output around each membership
// change (time to rebalance) and the per-document ordering violations
// (goal: 0), and the duplicates that the moves cost.
func BenchmarkManyWorkers(b *testing.B) {
	const (
		partitions = 300
		workers    = 30
		docs       = 3000
		chunks     = 20
	)
	for range b.N {
		c := newCluster(b, partitions, "in", "out")
		// The stream: produced at a steady pace while membership changes.
		produceDone := make(chan struct{})
		go func() {
			defer close(produceDone)
			for d := range docs {
				key := []byte("tenant/doc-" + strconv.Itoa(d))
				for i := range chunks {
					c.cl.Produce(context.Background(), &kgo.Record{Topic: "in", Key: key, Value: fmt.Appendf(nil, "%d:%d", d, i)}, nil)
				}
				if d%5 == 4 {
					time.Sleep(25 * time.Millisecond) // ~4k chunks/s for 15 s, evenly
				}
			}
			_ = c.cl.Flush(context.Background())
		}()
		g := newGPU(2*time.Millisecond, 10*time.Microsecond, 64)
		var done atomic.Int64
		start := func() (stop func()) {
			e, err := engine.New(engine.Config{
				Group: "many", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)},
				Handler: g.handler("out", &done, nil), BatchMaxRecords: 64, MaxInFlightBatches: 4,
				MaxInFlightBytes: 4 << 20, Logger: quiet(), SessionTimeout: 10 * time.Second,
				DrainTimeout: 2 * time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- e.Run(ctx) }()
			return func() {
				cancel()
				if err := <-errc; err != nil {
					b.Errorf("worker: %v", err)
				}
			}
		}
		var stops []func()
		for range workers {
			stops = append(stops, start())
		}
		time.Sleep(5 * time.Second)
		var events []time.Time
		leave := time.Now()
		events = append(events, leave)
		var wg sync.WaitGroup
		for _, stop := range stops[:10] { // 10 leave at once
			wg.Add(1)
			go func() { defer wg.Done(); stop() }()
		}
		wg.Wait()
		stops = stops[10:]
		time.Sleep(5 * time.Second)
		events = append(events, time.Now())
		for range 10 { // 10 new ones join
			stops = append(stops, start())
		}
		<-produceDone
		out := readBack(b, c.addrs, "out", distinctAtLeast(docs*chunks), 2*time.Minute)
		for _, stop := range stops {
			stop()
		}
		// Order and duplicates per document, stalls around each event.
		next := map[string]int{}
		seen := map[string]bool{}
		violations, dups := 0, 0
		var stamps []time.Time
		for _, r := range out {
			v := string(r.Value)
			if seen[v] {
				dups++
				continue
			}
			seen[v] = true
			stamps = append(stamps, r.Timestamp)
			var d, i int
			if _, err := fmt.Sscanf(v, "%d:%d", &d, &i); err != nil {
				b.Fatalf("bad value %q", v)
			}
			key := string(r.Key)
			if i != next[key] {
				violations++
			}
			next[key] = i + 1
		}
		if len(seen) != docs*chunks {
			b.Fatalf("%d of %d chunks", len(seen), docs*chunks)
		}
		slices.SortFunc(stamps, func(a, b time.Time) int { return a.Compare(b) })
		stall := func(at time.Time) time.Duration {
			var worst time.Duration
			for k := 1; k < len(stamps); k++ {
				if stamps[k].After(at) && stamps[k-1].Before(at.Add(15*time.Second)) {
					worst = max(worst, stamps[k].Sub(stamps[k-1]))
				}
			}
			return worst
		}
		b.ReportMetric(float64(partitions), "partitions")
		b.ReportMetric(float64(workers), "workers")
		b.ReportMetric(stall(events[0]).Seconds()*1000, "stall-after-10-leave-ms")
		b.ReportMetric(stall(events[1]).Seconds()*1000, "stall-after-10-join-ms")
		b.ReportMetric(float64(violations), "order-violations")
		b.ReportMetric(float64(dups), "duplicates")
		if violations != 0 {
			b.Fatalf("%d ordering violations", violations)
		}
	}
}

// distinctAtLeast holds once n distinct values were read (checked
// incrementally).
func distinctAtLeast(n int) func([]*kgo.Record) bool {
	seen := map[string]struct{}{}
	checked := 0
	return func(rs []*kgo.Record) bool {
		for _, r := range rs[checked:] {
			seen[string(r.Value)] = struct{}{}
		}
		checked = len(rs)
		return len(seen) >= n
	}
}
