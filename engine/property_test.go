package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"pgregory.net/rapid"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/fault"
)

// The engine end to end under random input topics and their weights,
// keys, partitions, batch sizes, concurrency, completion orders (random handler latency) and transient
// record failures: every record's output arrives, every key's outputs
// first appear in offset order, and the group's committed offsets reach
// the end of every partition.
func TestEngineProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		partitions := int32(rapid.IntRange(1, 4).Draw(rt, "partitions"))
		keys := rapid.IntRange(1, 20).Draw(rt, "keys")
		n := rapid.IntRange(1, 200).Draw(rt, "records")
		batch := rapid.IntRange(1, 16).Draw(rt, "batch size")
		conc := rapid.IntRange(1, 8).Draw(rt, "concurrency")
		ordering := rapid.SampledFrom([]Ordering{OrderKey, OrderPartition}).Draw(rt, "ordering")
		failEvery := rapid.IntRange(0, 7).Draw(rt, "fail every (0: never)")
		seed := rapid.Uint64().Draw(rt, "seed")
		// A small bound makes partitions and priority classes pause and
		// resume all the time (0: the default bound).
		bound := int64(rapid.SampledFrom([]int{0, 1 << 10, 4 << 10, 16 << 10}).Draw(rt, "max in-flight bytes"))
		// Up to three input topics, weighted or not: priority classes
		// change the dispatch order, never the invariants.
		nTopics := rapid.IntRange(1, 3).Draw(rt, "input topics")
		topics := []string{"in0", "in1", "in2"}[:nTopics]
		var weights map[string]int
		if rapid.Bool().Draw(rt, "weighted") {
			weights = map[string]int{}
			for _, tp := range topics[:rapid.IntRange(1, nTopics).Draw(rt, "weighted topics")] {
				weights[tp] = rapid.IntRange(1, 12).Draw(rt, "weight of "+tp)
			}
		}

		b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
		if err != nil {
			rt.Fatal(err)
		}
		defer b.Close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
		if err != nil {
			rt.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		if _, err := adm.CreateTopics(context.Background(), partitions, 1, nil, append([]string{"out"}, topics...)...); err != nil {
			rt.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, 1))
		seq := map[string]int{}
		var recs []*kgo.Record
		for range n {
			tp := topics[r.IntN(nTopics)]
			k := fmt.Sprintf("k%d", r.IntN(keys))
			// A key's order is kept per topic: the value names both.
			recs = append(recs, &kgo.Record{Topic: tp, Key: []byte(k), Value: fmt.Appendf(nil, "%s/%s:%d", tp, k, seq[tp+"/"+k])})
			seq[tp+"/"+k]++
			seq[k]++
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			rt.Fatal(err)
		}

		var mu sync.Mutex
		failed := map[string]bool{} // each chosen record fails once, then succeeds
		hr := rand.New(rand.NewPCG(seed, 2))
		handler := func(ctx context.Context, in []*kgo.Record) ([]Result, error) {
			mu.Lock()
			d := time.Duration(hr.IntN(3000)) * time.Microsecond
			mu.Unlock()
			time.Sleep(d)
			res := make([]Result, len(in))
			for i, rec := range in {
				mu.Lock()
				fail := failEvery > 0 && int(rec.Offset)%failEvery == 0 && !failed[string(rec.Value)]
				if fail {
					failed[string(rec.Value)] = true
				}
				mu.Unlock()
				if fail {
					res[i].Err = fault.Record(errors.New("transient"))
					continue
				}
				res[i].Outputs = []*kgo.Record{{Topic: "out", Value: rec.Value}}
			}
			return res, nil
		}
		e, err := New(Config{
			Group: "g", Topics: topics, TopicWeights: weights, ClientOpts: []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)},
			Handler: handler, Ordering: ordering, BatchMaxRecords: batch, MaxInFlightBatches: conc,
			RetryBackoff: time.Millisecond, Logger: testLogger(), MaxInFlightBytes: bound,
		})
		if err != nil {
			rt.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- e.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for e.Stats().Done < int64(n) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
		if err := <-errc; err != nil {
			rt.Fatal(err)
		}

		// Every record's output, each key in order of first appearance.
		rd, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics("out"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			rt.Fatal(err)
		}
		defer rd.Close()
		pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer pcancel()
		seen := map[string]bool{}
		next := map[string]int{}
		for len(seen) < n && pctx.Err() == nil {
			for _, o := range rd.PollFetches(pctx).Records() {
				v := string(o.Value)
				if seen[v] {
					continue
				}
				seen[v] = true
				var k string
				var i int
				for j := len(v) - 1; j >= 0; j-- {
					if v[j] == ':' {
						k = v[:j]
						fmt.Sscan(v[j+1:], &i)
						break
					}
				}
				if i != next[k] {
					rt.Fatalf("key %s: output %d first appeared before %d", k, i, next[k])
				}
				next[k]++
			}
		}
		if len(seen) != n {
			rt.Fatalf("%d of %d outputs", len(seen), n)
		}
		// Committed offsets cover every record: nothing is left for a redo.
		offs, err := adm.FetchOffsets(context.Background(), "g")
		if err != nil {
			rt.Fatal(err)
		}
		ends, err := adm.ListEndOffsets(context.Background(), topics...)
		if err != nil {
			rt.Fatal(err)
		}
		ends.Each(func(lo kadm.ListedOffset) {
			if lo.Offset == 0 {
				return
			}
			if c, ok := offs.Lookup(lo.Topic, lo.Partition); !ok || c.At != lo.Offset {
				rt.Fatalf("%s[%d]: committed %v, end %d", lo.Topic, lo.Partition, c.At, lo.Offset)
			}
		})
	})
}
