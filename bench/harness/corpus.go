package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// toxicMarker is the text gpusim --toxic-marker answers 500 to.
const toxicMarker = "TOXIC-INPUT-7f3a"

// corpusSpec describes the generated documents.
type corpusSpec struct {
	Docs      int // documents
	MinChunks int // chunks per document, uniform in [MinChunks, MaxChunks]
	MaxChunks int
	// HotTenant is the share of documents of tenant "hot" (0: 16 even tenants).
	HotTenant float64
	// HotPartition makes partition 0 receive this many times the records
	// of any other partition (0 or 1: keys spread by their hash).
	HotPartition float64
	// Toxic puts the toxic marker in one chunk of this many documents.
	Toxic int
	// Rate paces production at this many chunks per second (0: as fast as
	// the producer goes, a backlog).
	Rate float64
	Seed uint64
}

// chunks returns the total number of chunks of the corpus.
func (s corpusSpec) chunks() int {
	n := 0
	s.each(func(*ragpipev1.ChunkParsed, int32) { n++ })
	return n
}

// each calls fn for every chunk, in production order: documents one after
// another, each document's chunks in order.
func (s corpusSpec) each(fn func(m *ragpipev1.ChunkParsed, partitionHint int32)) {
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	words := strings.Fields("kafka partition consumer group embedding vector chunk document offset commit batch ordering latency throughput gpu server tenant index search retrieval")
	for d := range s.Docs {
		tenant := fmt.Sprintf("t%02d", d%16)
		if s.HotTenant > 0 && rng.Float64() < s.HotTenant {
			tenant = "hot"
		}
		docID := fmt.Sprintf("doc-%06d", d)
		n := s.MinChunks
		if s.MaxChunks > s.MinChunks {
			n += rng.IntN(s.MaxChunks - s.MinChunks + 1)
		}
		toxicAt := int32(-1)
		if s.Toxic > 0 && d%max(1, s.Docs/s.Toxic) == 0 && d/max(1, s.Docs/s.Toxic) < s.Toxic {
			toxicAt = int32(rng.IntN(n))
		}
		hint := int32(-1) // by hash
		if s.HotPartition > 1 {
			hint = -2 // chosen per document by the weighted pick
			if rng.Float64() < s.HotPartition/(s.HotPartition+float64(benchPartitions-1)) {
				hint = 0
			}
		}
		for i := range int32(n) {
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s chunk %d:", tenant, docID, i)
			for range 48 {
				b.WriteByte(' ')
				b.WriteString(words[rng.IntN(len(words))])
			}
			if i == toxicAt {
				b.WriteString(" " + toxicMarker)
			}
			fn(&ragpipev1.ChunkParsed{TenantId: tenant, DocId: docID, DocVersion: 1, ChunkIndex: i,
				ChunkCount: int32(n), Text: b.String(), Source: "bench/" + docID}, hint)
		}
	}
}

// benchPartitions is the partition count of every topic.
const benchPartitions = 12

// partitionOf is the partition of a key: its FNV-1a hash, or for a hot
// partition corpus the hint (0) or a non-zero partition by the hash.
func partitionOf(key []byte, hint int32) int32 {
	h := fnv.New32a()
	_, _ = h.Write(key)
	v := int32(h.Sum32() & 0x7fffffff)
	switch hint {
	case -1:
		return v % benchPartitions
	case -2:
		return 1 + v%(benchPartitions-1)
	default:
		return hint
	}
}

// producer writes a corpus to documents.parsed and remembers where each
// chunk landed and when.
type producer struct {
	cl *kgo.Client
	mu sync.Mutex
	in []inRecord
}

func newProducer(brokers []string) (*producer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &producer{cl: cl}, nil
}

func (p *producer) close() { p.cl.Close() }

// produce writes the corpus; with a rate it paces itself, else it goes as
// fast as the broker takes it. It returns when every record is acked.
func (p *producer) produce(ctx context.Context, s corpusSpec) error {
	var (
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	n := 0
	s.each(func(m *ragpipev1.ChunkParsed, hint int32) {
		if ctx.Err() != nil {
			return
		}
		if s.Rate > 0 {
			due := start.Add(time.Duration(float64(n) / s.Rate * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				time.Sleep(d)
			}
		}
		n++
		key := event.Key(m.TenantId, m.DocId)
		rec, err := event.NewRecord(event.TopicParsed, key, m)
		if err != nil {
			errMu.Lock()
			first = err
			errMu.Unlock()
			return
		}
		rec.Partition = partitionOf(key, hint)
		id := chunkID{Doc: m.TenantId + "/" + m.DocId, Index: m.ChunkIndex}
		p.cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				first = err
				errMu.Unlock()
				return
			}
			p.mu.Lock()
			p.in = append(p.in, inRecord{ID: id, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp})
			p.mu.Unlock()
		})
	})
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the corpus: %w", err)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if first != nil {
		return fmt.Errorf("producing the corpus: %w", first)
	}
	return ctx.Err()
}

// records returns what was produced so far, and forgets it.
func (p *producer) take() []inRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.in
	p.in = nil
	return in
}
