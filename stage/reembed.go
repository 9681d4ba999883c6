package stage

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	"github.com/ragpipe/ragpipe/store"
)

// ReembedGroupPrefix starts the consumer group of a re-embedding: the
// group of namespace NS is ReembedGroupPrefix + NS, so a re-run resumes
// from its committed offsets.
const ReembedGroupPrefix = "ragpipe-reembed-"

// ReembedTopics are the topics a re-embedding replays from the earliest
// offsets: the parsed chunks of every priority (event.ParsedTopics) and
// the deletes.
func ReembedTopics() []string {
	return append(event.ParsedTopics(), event.TopicDeleted)
}

// Reembed embeds ChunkParsed records with a new embedder straight into
// one index namespace (Store), with the index stage's version semantics
// (the store's): it is the embed and index stages in one handler, for
// `ragpipe reembed`. documents.deleted applies to the namespace too.
type Reembed struct {
	Embed Embed
	// Store is the namespace being built.
	Store store.Store
}

// Handle is the engine handler: one embedding request and one durable
// upsert per batch.
func (s *Reembed) Handle(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
	res := make([]engine.Result, len(batch))
	parsed := make([]*kgo.Record, 0, len(batch))
	pos := make([]int, 0, len(batch))
	for i, r := range batch {
		if r.Topic != event.TopicDeleted {
			parsed = append(parsed, r)
			pos = append(pos, i)
			continue
		}
		d, err := event.DecodeDocumentDeleted(r)
		if err != nil {
			res[i].Err = err
			continue
		}
		if err := s.Store.DeleteDocument(ctx, d.GetTenantId(), d.GetDocId(), d.GetDocVersion()); err != nil {
			return nil, fault.Server(fmt.Errorf("store: deleting a document: %w", err), 0)
		}
	}
	if len(parsed) == 0 {
		return res, nil
	}
	out, err := s.Embed.Handle(ctx, parsed)
	if err != nil {
		if i := fault.IndexOf(err); fault.ClassOf(err) == fault.ClassRecord && i >= 0 && i < len(pos) {
			return nil, fault.RecordAt(pos[i], err)
		}
		return nil, err
	}
	chunks := make([]store.Chunk, 0, len(parsed))
	for j, r := range out {
		i := pos[j]
		if r.Err != nil {
			res[i].Err = r.Err
			continue
		}
		for _, rec := range r.Outputs { // one ChunkEmbedded, or none for a skipped chunk
			m, err := event.DecodeChunkEmbedded(rec)
			if err != nil {
				res[i].Err = fault.Record(err)
				continue
			}
			chunks = append(chunks, storeChunk(m, event.Delivery(batch[i])))
		}
	}
	if len(chunks) == 0 {
		return res, nil
	}
	if err := s.Store.Upsert(ctx, chunks); err != nil {
		if errors.Is(err, store.ErrDimension) {
			return nil, fault.Record(fmt.Errorf("store upsert: %w", err))
		}
		return nil, fault.Server(fmt.Errorf("store upsert: %w", err), 0)
	}
	return res, nil
}

// DeadLetters counts the records a worker dead-lettered (safe for
// concurrent use; the zero value is ready).
type DeadLetters struct{ n atomic.Int64 }

// Count is the number of records dead-lettered so far.
func (d *DeadLetters) Count() int64 {
	if d == nil {
		return 0
	}
	return d.n.Load()
}

func (d *DeadLetters) add() {
	if d != nil {
		d.n.Add(1)
	}
}

// ReembedWorker is the re-embedding of documents.parsed (and
// documents.deleted) into namespace ns of a store, opened as st, with em,
// in group ReembedGroupPrefix+ns. A record that fails goes to the DLQ as
// in the embed stage and the rest of its version is skipped, but no
// DocumentFailed is written: the index stage would fail that version in
// every namespace, including the active one that indexed it fine. The
// version never becomes complete, so never searchable, in ns. Each dead
// letter counts in dead (nil counts nothing) before the record is done,
// so once the group's offsets pass a record its dead letter is counted:
// `ragpipe reembed` does not switch search while there are any (those
// versions would drop out of search).
func ReembedWorker(em embed.Embedder, st store.Store, ns string, dead *DeadLetters) Worker {
	failures := NewFailures(0)
	s := &Reembed{Embed: Embed{Embedder: em, Failures: failures}, Store: st}
	return Worker{
		Name: "reembed", Group: ReembedGroupPrefix + ns, BatchSize: EmbedBatchSize,
		Topics: ReembedTopics(), Handler: s.Handle,
		DeadLetter: deadLetterOnly(failures, dead), Lineage: event.Lineage, Probe: s.Embed.Probe,
	}
}

// deadLetterOnly is DeadLetter without the DocumentFailed, counting each
// dead letter in dead.
func deadLetterOnly(failures *Failures, dead *DeadLetters) engine.DeadLetterFunc {
	full := DeadLetter(failures)
	return func(rec *kgo.Record, f engine.Failure) []*kgo.Record {
		dead.add()
		var outs []*kgo.Record
		for _, r := range full(rec, f) {
			if r.Topic != event.TopicFailed {
				outs = append(outs, r)
			}
		}
		return outs
	}
}
