package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/stage"
)

// embedRun is one run of the real embed stage (stage.EmbedWorker on the
// engine, an embed.Pool over gpusim) on the embedded broker, measured from
// what chunks.embedded holds: the record timestamps of the first
// appearance of every chunk.
type embedRun struct {
	chunks  int           // distinct chunks embedded
	records int           // records on chunks.embedded (duplicates included)
	span    time.Duration // first to last chunk's record timestamp
	rate    float64       // chunks/s over span
	dead    int           // records on documents.dlq
	// deadAfter is the time from the first chunk to the last dead letter.
	deadAfter time.Duration
	failed    []string // doc ids on documents.failed
	requests  gpusim.Stats
	health    []embed.EndpointHealth
}

// corpusText returns the text of chunk i of document d.
type corpusText func(d, i int) string

func plainText(d, i int) string {
	return fmt.Sprintf("document %d chunk %d: kafka partitions carry chunks to the gpu in order", d, i)
}

// runEmbedStage produces docs×chunks ChunkParsed records, runs the embed
// stage against a gpusim configured by gcfg until every chunk it expects
// (want) is on chunks.embedded and wantDead records are on documents.dlq,
// and reads the result back.
func runEmbedStage(b *testing.B, gcfg gpusim.Config, docs, chunks int, text corpusText, want, wantDead int, tune func(*engine.Config)) embedRun {
	b.Helper()
	c := newCluster(b, 6, event.TopicParsed, event.TopicEmbedded, event.TopicDLQ, event.TopicFailed)
	for d := range docs {
		for i := range chunks {
			m := &ragpipev1.ChunkParsed{TenantId: "t", DocId: fmt.Sprintf("doc-%05d", d), DocVersion: 1,
				ChunkIndex: int32(i), ChunkCount: int32(chunks), Text: text(d, i)}
			rec, err := event.NewRecord(event.TopicParsed, event.Key("t", m.DocId), m)
			if err != nil {
				b.Fatal(err)
			}
			c.cl.Produce(context.Background(), rec, nil)
		}
	}
	if err := c.cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	gcfg.Logger = quiet()
	srv, err := gpusim.Start(context.Background(), gcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	em, err := embed.OpenAll([]embed.Spec{{Embedder: srv.URL(), Model: "gpusim", Timeout: 5 * time.Second, Logger: quiet()}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := stage.EmbedWorker(em).Configure(engine.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(c.addrs...)}, Logger: quiet(),
	})
	if tune != nil {
		tune(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()

	out := readBack(b, c.addrs, event.TopicEmbedded, chunksCovered(want), 5*time.Minute)
	var lastDead time.Time
	if wantDead > 0 {
		dead := readBack(b, c.addrs, event.TopicDLQ, func(rs []*kgo.Record) bool { return len(rs) >= wantDead }, time.Minute)
		for _, r := range dead {
			if r.Timestamp.After(lastDead) {
				lastDead = r.Timestamp
			}
		}
	}
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	r := embedRun{records: len(out), requests: srv.Stats()}
	if p, ok := em.(*embed.Pool); ok {
		r.health = p.Health()
	}
	seen := map[string]bool{}
	var stamps []time.Time
	next := map[string]int32{}
	for _, rec := range out {
		m, err := event.DecodeChunkEmbedded(rec)
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("%s/%d", m.DocId, m.ChunkIndex)
		if seen[id] {
			continue
		}
		seen[id] = true
		if m.ChunkIndex != next[m.DocId] {
			b.Fatalf("%s: chunk %d before chunk %d (order broken)", m.DocId, m.ChunkIndex, next[m.DocId])
		}
		next[m.DocId]++
		stamps = append(stamps, rec.Timestamp)
	}
	r.chunks = len(seen)
	slices.SortFunc(stamps, func(a, b time.Time) int { return a.Compare(b) })
	if len(stamps) > 1 {
		r.span = stamps[len(stamps)-1].Sub(stamps[0])
		r.rate = float64(len(stamps)-1) / r.span.Seconds()
		if !lastDead.IsZero() {
			r.deadAfter = lastDead.Sub(stamps[0])
		}
	}
	r.dead = len(readBack(b, c.addrs, event.TopicDLQ, nil, time.Second))
	for _, rec := range readBack(b, c.addrs, event.TopicFailed, nil, time.Second) {
		if m, err := event.DecodeDocumentFailed(rec); err == nil {
			r.failed = append(r.failed, m.DocId)
		}
	}
	return r
}

// readBack reads topic from the start until done holds for what was read
// (nil: never), or until nothing arrived for quiet.
func readBack(b *testing.B, addrs []string, topic string, done func([]*kgo.Record) bool, quiet time.Duration) []*kgo.Record {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	last := time.Now()
	for (done == nil || !done(out)) && time.Since(last) < quiet {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		if recs := f.Records(); len(recs) > 0 {
			out = append(out, recs...)
			last = time.Now()
		}
	}
	return out
}

// chunksCovered holds once n distinct chunks are among the records of
// chunks.embedded (checked incrementally).
func chunksCovered(n int) func([]*kgo.Record) bool {
	seen := map[string]bool{}
	checked := 0
	return func(recs []*kgo.Record) bool {
		for _, r := range recs[checked:] {
			if m, err := event.DecodeChunkEmbedded(r); err == nil {
				seen[fmt.Sprintf("%s/%d", m.DocId, m.ChunkIndex)] = true
			}
		}
		checked = len(recs)
		return len(seen) >= n
	}
}

// capacity is a gpusim's throughput for full batches of n inputs.
func capacity(g gpusim.Config, n int) float64 {
	per := g.BaseLatency + time.Duration(n)*g.PerItemLatency
	return float64(g.MaxConcurrent*n) / per.Seconds()
}
