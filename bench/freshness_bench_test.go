package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/stage"
	"github.com/ragpipe/ragpipe/store"
)

// BenchmarkIngestToSearchable feeds documents.parsed at half the
// embedding server's capacity for 15 s (documents of 10 chunks) through
// the embed and index stages (embedded store) and reports, per document,
// the time from its last chunk's record on documents.parsed to its
// DocumentIndexed on vectors.indexed, both record timestamps (goal: p99
// under 2 s).
func BenchmarkIngestToSearchable(b *testing.B) {
	const chunksPerDoc, runFor = 10, 15 * time.Second
	for range b.N {
		g := gpuBound()
		rate := capacity(g, 64) / 2 // chunks/s
		c := newCluster(b, 6, event.TopicParsed, event.TopicEmbedded, event.TopicIndexed, event.TopicDLQ,
			event.TopicFailed, event.TopicDeleted)
		g.Logger = quiet()
		srv, err := gpusim.Start(context.Background(), g)
		if err != nil {
			b.Fatal(err)
		}
		em, err := embed.OpenAll([]embed.Spec{{Embedder: srv.URL(), Model: "gpusim", Timeout: 5 * time.Second, Logger: quiet()}})
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.OpenEmbedded(b.TempDir(), false)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 2)
		for _, w := range []stage.Worker{stage.EmbedWorker(em), stage.IndexWorker(st)} {
			e, err := engine.New(w.Configure(engine.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)}, Logger: quiet()}))
			if err != nil {
				b.Fatal(err)
			}
			go func() { errc <- e.Run(ctx) }()
		}
		// Produce at the target rate: one document every chunksPerDoc/rate.
		every := time.Duration(float64(time.Second) * chunksPerDoc / rate)
		start, docs := time.Now(), 0
		for time.Since(start) < runFor {
			for next := start.Add(time.Duration(docs) * every); time.Now().After(next); next = start.Add(time.Duration(docs) * every) {
				id := fmt.Sprintf("doc-%06d", docs)
				for i := range chunksPerDoc {
					m := &ragpipev1.ChunkParsed{TenantId: "t", DocId: id, DocVersion: 1, ChunkIndex: int32(i),
						ChunkCount: chunksPerDoc, Text: plainText(docs, i), ParsedAt: timestamppb.Now()}
					rec, err := event.NewRecord(event.TopicParsed, event.Key("t", id), m)
					if err != nil {
						b.Fatal(err)
					}
					c.cl.Produce(context.Background(), rec, nil)
				}
				docs++
			}
			time.Sleep(time.Millisecond)
		}
		if err := c.cl.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		indexed := readBack(b, c.addrs, event.TopicIndexed, func(rs []*kgo.Record) bool { return len(rs) >= docs }, time.Minute)
		parsed := readBack(b, c.addrs, event.TopicParsed, func(rs []*kgo.Record) bool { return len(rs) >= docs*chunksPerDoc }, 10*time.Second)
		cancel()
		for range 2 {
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		}
		srv.Close()
		st.Close()
		last := map[string]time.Time{}
		for _, r := range parsed {
			if r.Timestamp.After(last[string(r.Key)]) {
				last[string(r.Key)] = r.Timestamp
			}
		}
		var lat []time.Duration
		seen := map[string]bool{}
		for _, r := range indexed {
			if seen[string(r.Key)] {
				continue
			}
			seen[string(r.Key)] = true
			lat = append(lat, r.Timestamp.Sub(last[string(r.Key)]))
		}
		if len(lat) != docs {
			b.Fatalf("%d of %d documents indexed", len(lat), docs)
		}
		slices.Sort(lat)
		pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
		b.ReportMetric(rate, "offered-chunks/s")
		b.ReportMetric(float64(docs), "documents")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.95), "p95-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	}
}
