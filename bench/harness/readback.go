package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ragpipe/ragpipe/event"
)

// readRange reads topic from the offsets from (per partition) up to its
// current end, and calls fn for every record. It gives up after timeout.
func (c *cluster) readRange(ctx context.Context, topic string, from map[int32]int64, fn func(*kgo.Record)) error {
	end, err := c.ends(ctx, topic)
	if err != nil {
		return err
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	for p, e := range end {
		if e > from[p] {
			want[p] = e
			parts[p] = kgo.NewOffset().At(from[p])
		}
	}
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for len(want) > 0 {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s: %d partitions unfinished: %w", topic, len(want), ctx.Err())
		}
		f.EachRecord(func(r *kgo.Record) {
			if e, ok := want[r.Partition]; ok && r.Offset < e {
				fn(r)
				if r.Offset+1 >= e {
					delete(want, r.Partition)
				}
			}
		})
	}
	return nil
}

func (c *cluster) seeds() []string { return splitComma(c.brokers) }

// chunkOf reads tenant_id (1), doc_id (2) and chunk_index (4) from a
// ChunkParsed or ChunkEmbedded value (they share these field numbers)
// without decoding the rest, the vector above all.
func chunkOf(v []byte) (chunkID, error) {
	var tenant, doc string
	var idx int32
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return chunkID{}, protowire.ParseError(n)
		}
		v = v[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			b, m := protowire.ConsumeBytes(v)
			if m < 0 {
				return chunkID{}, protowire.ParseError(m)
			}
			tenant, n = string(b), m
		case num == 2 && typ == protowire.BytesType:
			b, m := protowire.ConsumeBytes(v)
			if m < 0 {
				return chunkID{}, protowire.ParseError(m)
			}
			doc, n = string(b), m
		case num == 4 && typ == protowire.VarintType:
			x, m := protowire.ConsumeVarint(v)
			if m < 0 {
				return chunkID{}, protowire.ParseError(m)
			}
			idx, n = int32(x), m
		default:
			n = protowire.ConsumeFieldValue(num, typ, v)
			if n < 0 {
				return chunkID{}, protowire.ParseError(n)
			}
		}
		v = v[n:]
	}
	if doc == "" {
		return chunkID{}, fmt.Errorf("no doc_id")
	}
	return chunkID{Doc: tenant + "/" + doc, Index: idx}, nil
}

// outputs reads a scenario's records of an output topic.
func (c *cluster) outputs(ctx context.Context, topic string, from map[int32]int64) ([]outRecord, error) {
	var out []outRecord
	var bad int
	err := c.readRange(ctx, topic, from, func(r *kgo.Record) {
		id, err := chunkOf(r.Value)
		if err != nil {
			bad++
			return
		}
		out = append(out, outRecord{ID: id, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp})
	})
	if err == nil && bad > 0 {
		err = fmt.Errorf("%s: %d records not understood", topic, bad)
	}
	return out, err
}

// failedDocs reads the documents reported on documents.failed.
func (c *cluster) failedDocs(ctx context.Context, from map[int32]int64) (map[string]bool, error) {
	docs := map[string]bool{}
	err := c.readRange(ctx, event.TopicFailed, from, func(r *kgo.Record) {
		if m, err := event.DecodeDocumentFailed(r); err == nil {
			docs[m.GetTenantId()+"/"+m.GetDocId()] = true
		}
	})
	return docs, err
}
