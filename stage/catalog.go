package stage

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// The index stage's records on documents.catalog: with each announcement
// of a version whose chunks carry a document_hash, a CatalogEntry; with
// each delete, a tombstone for the document's key. The catalog so holds
// the hash of every searchable document, which ingest reads back (package
// catalog) to skip unchanged files; a failed version is never announced,
// so never cataloged.

// catalogEntry returns the documents.catalog record of a version just
// announced on vectors.indexed, or nil when its chunks carry no
// document_hash (written by a stage that predates it). It goes out with
// the announcement, in the same transaction in exactly-once mode: a
// version is cataloged exactly when it is searchable.
func catalogEntry(key []byte, m *ragpipev1.ChunkEmbedded, di *ragpipev1.DocumentIndexed) (*kgo.Record, error) {
	if m.GetDocumentHash() == "" {
		return nil, nil
	}
	rec, err := event.NewRecord(event.TopicCatalog, key, &ragpipev1.CatalogEntry{
		TenantId: di.GetTenantId(), DocId: di.GetDocId(), DocVersion: di.GetDocVersion(),
		DocumentHash: m.GetDocumentHash(), Source: m.GetSource(), ChunkCount: di.GetChunkCount(),
		Model: di.GetModel(), Dimensions: di.GetDimensions(), Store: di.GetStore(), IndexedAt: di.GetIndexedAt(),
	})
	if err != nil {
		return nil, fault.Record(err)
	}
	return rec, nil
}

// catalogTombstone removes a deleted document from documents.catalog (a
// record without a value, which compaction keeps only for a while), so
// that the same content ingested again is published again.
func catalogTombstone(tenant, doc string) *kgo.Record {
	return &kgo.Record{Topic: event.TopicCatalog, Key: event.Key(tenant, doc)}
}
