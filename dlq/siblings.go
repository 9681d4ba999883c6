package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// siblingMargin is how far before a chunk's parse (or embed) time the
// search for its version's other chunks starts.
const siblingMargin = time.Minute

var errFound = errors.New("found")

// chunkOf reads the version and chunk of a record of documents.parsed or
// chunks.embedded.
func chunkOf(r *kgo.Record) (version int64, index, count int32, at time.Time, ok bool) {
	if m, err := event.DecodeChunkParsed(r); err == nil {
		return m.GetDocVersion(), m.GetChunkIndex(), m.GetChunkCount(), m.GetParsedAt().AsTime(), true
	}
	if m, err := event.DecodeChunkEmbedded(r); err == nil {
		return m.GetDocVersion(), m.GetChunkIndex(), m.GetChunkCount(), m.GetEmbeddedAt().AsTime(), true
	}
	return 0, 0, 0, time.Time{}, false
}

// Siblings returns the other chunks of the dead letter's document version
// from its original topic and partition, in chunk order: records with the
// same key, version and delivery (event.Delivery). A dead-lettered chunk
// makes the stage skip the version's later chunks and the index stage
// remove its earlier ones, so replaying the version whole takes them all.
// The search starts a minute before the chunk was parsed (or embedded)
// and ends when every chunk is found or at the partition's end.
func Siblings(ctx context.Context, opts []kgo.Opt, dl *kgo.Record) ([]*kgo.Record, error) {
	e := Parse(dl)
	if e.Chunk < 0 || e.ChunkCount <= 1 || e.TopicPartition < 0 || (!event.IsParsedTopic(e.Topic) && e.Topic != event.TopicEmbedded) {
		return nil, nil
	}
	as := *dl
	as.Topic = e.Topic
	_, _, _, at, _ := chunkOf(&as)
	from := int64(0)
	if !at.IsZero() {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("dlq: kafka client: %w", err)
		}
		lo, err := kadm.NewClient(cl).ListOffsetsAfterMilli(ctx, at.Add(-siblingMargin).UnixMilli(), e.Topic)
		cl.Close()
		if err != nil {
			return nil, fmt.Errorf("dlq: listing offsets of %s: %w", e.Topic, err)
		}
		if o, ok := lo.Lookup(e.Topic, e.TopicPartition); ok && o.Err == nil && o.Offset >= 0 {
			from = o.Offset
		}
	}
	from = min(from, e.TopicOffset)
	delivery := event.Delivery(dl)
	found := make([]*kgo.Record, e.ChunkCount)
	missing := int(e.ChunkCount) - 1
	err := ReadFrom(ctx, opts, e.Topic, map[int32]int64{e.TopicPartition: from}, func(r *kgo.Record) error {
		if string(r.Key) != string(dl.Key) || event.Delivery(r) != delivery {
			return nil
		}
		v, idx, count, _, ok := chunkOf(r)
		if !ok || v != e.Version || count != e.ChunkCount || idx == e.Chunk || idx < 0 || idx >= count || found[idx] != nil {
			return nil
		}
		found[idx] = r
		if missing--; missing == 0 {
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	var out []*kgo.Record
	for _, r := range found {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// SiblingRecord returns the record that replays sibling, a chunk of the
// same version as the dead letter dl, with the same replay headers as dl's
// replay (count from dl) and its own position as the original.
func SiblingRecord(sibling, dl *kgo.Record, id string) *kgo.Record {
	return replayOf(sibling, sibling.Topic, event.ReplayCount(dl), id,
		strconv.Itoa(int(sibling.Partition)), strconv.FormatInt(sibling.Offset, 10))
}
