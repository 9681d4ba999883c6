package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/store"
)

// Index writes ChunkEmbedded records into a vector store and announces
// each complete document version on vectors.indexed. It also consumes
// documents.failed: a failed version's chunks are removed from the store
// and later ones of the same delivery ignored, so a failed version is
// never half searchable (chunks of another delivery of that version, a
// replay or a fresh ingest, clear the tombstone and are indexed); and
// documents.deleted: the document's versions up to the deleted one leave
// the store, and later chunks of them are ignored.
type Index struct {
	Store store.Store
	// NoCatalog leaves documents.catalog alone (see WithoutCatalog).
	NoCatalog bool
	// Logger receives a line for each chunk the store ignores as part of
	// a failed version (default slog.Default()).
	Logger *slog.Logger
}

// ignorer is a store that tells which chunks Upsert would ignore
// (store.Embedded, store.Router).
type ignorer interface {
	Ignores(ctx context.Context, c store.Chunk) bool
}

// searchability is a store that holds versions not searchable yet
// (store.Router: those of a building index namespace).
type searchability interface {
	Searchable(ctx context.Context, tenantID, docID string, version int64) (bool, error)
}

// Handle is the engine handler: one durable upsert per batch.
func (s *Index) Handle(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
	res := make([]engine.Result, len(batch))
	chunks := make([]store.Chunk, 0, len(batch))
	msgs := make([]*ragpipev1.ChunkEmbedded, 0, len(batch))
	pos := make([]int, 0, len(batch))
	var (
		failed     []*ragpipev1.DocumentFailed
		deliveries []string
		deleted    []*ragpipev1.DocumentDeleted
		delPos     []int
	)
	for i, r := range batch {
		if r.Topic == event.TopicDeleted {
			d, err := event.DecodeDocumentDeleted(r)
			if err != nil {
				res[i].Err = err
			} else {
				deleted = append(deleted, d)
				delPos = append(delPos, i)
			}
			continue
		}
		if r.Topic == event.TopicFailed {
			f, err := event.DecodeDocumentFailed(r)
			if err != nil {
				res[i].Err = err
			} else {
				failed = append(failed, f)
				deliveries = append(deliveries, event.Delivery(r))
			}
			continue
		}
		m, err := event.DecodeChunkEmbedded(r)
		if err == nil {
			if bad := badVector(m.GetVector()); bad != "" {
				err = fault.Record(fmt.Errorf("chunk %d of %s: %s", m.GetChunkIndex(), m.GetDocId(), bad))
			}
		}
		if err != nil {
			res[i].Err = err
			continue
		}
		msgs = append(msgs, m)
		pos = append(pos, i)
		chunks = append(chunks, storeChunk(m, event.Delivery(r)))
	}
	for j, f := range failed {
		if err := s.Store.FailVersion(ctx, f.GetTenantId(), f.GetDocId(), f.GetDocVersion(), deliveries[j]); err != nil {
			return nil, fault.Server(fmt.Errorf("store: removing failed version: %w", err), 0)
		}
	}
	// A delete and the upserts of one batch commute: the tombstone makes
	// the store ignore the deleted versions' chunks, before or after.
	for j, d := range deleted {
		if err := s.Store.DeleteDocument(ctx, d.GetTenantId(), d.GetDocId(), d.GetDocVersion()); err != nil {
			return nil, fault.Server(fmt.Errorf("store: deleting a document: %w", err), 0)
		}
		rec, err := event.NewRecord(event.TopicIndexed, event.Key(d.GetTenantId(), d.GetDocId()), &ragpipev1.DocumentIndexed{
			TenantId: d.GetTenantId(), DocId: d.GetDocId(), DocVersion: d.GetDocVersion(),
			Store: s.Store.Describe(), IndexedAt: timestamppb.Now(), Deleted: true,
		})
		if err != nil {
			return nil, fault.Record(err)
		}
		res[delPos[j]].Outputs = []*kgo.Record{rec}
		if !s.NoCatalog {
			res[delPos[j]].Outputs = append(res[delPos[j]].Outputs, catalogTombstone(d.GetTenantId(), d.GetDocId()))
		}
	}
	if len(chunks) == 0 {
		return res, nil
	}
	if ig, ok := s.Store.(ignorer); ok {
		for j, c := range chunks {
			if ig.Ignores(ctx, c) {
				r := batch[pos[j]]
				s.logger().Info("skipping a chunk of a failed version",
					"tenant", c.TenantID, "doc", c.DocID, "version", c.DocVersion, "chunk", c.ChunkIndex,
					"delivery", c.Delivery, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
			}
		}
	}
	if err := s.Store.Upsert(ctx, chunks); err != nil {
		if errors.Is(err, store.ErrDimension) || errors.Is(err, store.ErrNoModelNamespace) {
			// Retrying cannot help: the batch splits until the chunk
			// of the wrong dimension (or of a model no index namespace
			// takes) stands alone and is dead-lettered.
			return nil, fault.Record(fmt.Errorf("store upsert: %w", err))
		}
		return nil, fault.Server(fmt.Errorf("store upsert: %w", err), 0)
	}
	// A version is announced when its last chunk is indexed, all of its
	// chunks are there and it is searchable (in the active index
	// namespace: a building namespace's version is stored only). A replay
	// of the last chunk announces it again; consumers of vectors.indexed
	// treat the event as idempotent. The catalog entry goes with the
	// announcement, so the catalog holds exactly the searchable versions.
	sa, _ := s.Store.(searchability)
	now := timestamppb.Now()
	for j, m := range msgs {
		if m.GetChunkIndex() != m.GetChunkCount()-1 {
			continue
		}
		n, err := s.Store.CountVersion(ctx, m.GetTenantId(), m.GetDocId(), m.GetDocVersion())
		if err != nil {
			return nil, fault.Server(fmt.Errorf("store count: %w", err), 0)
		}
		if n != int(m.GetChunkCount()) {
			continue
		}
		if sa != nil {
			ok, err := sa.Searchable(ctx, m.GetTenantId(), m.GetDocId(), m.GetDocVersion())
			if err != nil {
				return nil, fault.Server(fmt.Errorf("store: reading the index namespaces: %w", err), 0)
			}
			if !ok {
				s.logger().Debug("version stored in a building index namespace; not announced or cataloged until searchable",
					"tenant", m.GetTenantId(), "doc", m.GetDocId(), "version", m.GetDocVersion(), "model", m.GetModel())
				continue
			}
		}
		di := &ragpipev1.DocumentIndexed{
			TenantId: m.GetTenantId(), DocId: m.GetDocId(), DocVersion: m.GetDocVersion(),
			ChunkCount: m.GetChunkCount(), Model: m.GetModel(), Dimensions: int32(len(m.GetVector())),
			Store: s.Store.Describe(), IndexedAt: now,
		}
		if p := m.GetParsedAt(); p.IsValid() && p.AsTime().Unix() > 0 {
			di.ParsedAt = p
			di.IngestToSearchableMs = max(0, now.AsTime().Sub(p.AsTime()).Milliseconds())
		}
		rec, err := event.NewRecord(event.TopicIndexed, batch[pos[j]].Key, di)
		if err != nil {
			return nil, fault.Record(err)
		}
		res[pos[j]].Outputs = []*kgo.Record{rec}
		if s.NoCatalog {
			continue
		}
		entry, err := catalogEntry(batch[pos[j]].Key, m, di)
		if err != nil {
			return nil, err
		}
		if entry != nil {
			res[pos[j]].Outputs = append(res[pos[j]].Outputs, entry)
		}
	}
	return res, nil
}

// storeChunk is the store's chunk of an embedded chunk of delivery
// (event.Delivery of the record it came in).
func storeChunk(m *ragpipev1.ChunkEmbedded, delivery string) store.Chunk {
	return store.Chunk{
		TenantID: m.GetTenantId(), DocID: m.GetDocId(), DocVersion: m.GetDocVersion(),
		ChunkIndex: m.GetChunkIndex(), ChunkCount: m.GetChunkCount(), Text: m.GetText(),
		Title: m.GetTitle(), Source: m.GetSource(), Heading: m.GetHeading(), Model: m.GetModel(),
		Metadata: m.GetMetadata(), Vector: m.GetVector(), Delivery: delivery,
	}
}

func (s *Index) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
