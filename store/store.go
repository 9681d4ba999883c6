package store

import (
	"context"
	"fmt"
	"strings"
)

// Chunk is one indexed chunk with its vector.
type Chunk struct {
	TenantID   string `json:"tenant_id"`
	DocID      string `json:"doc_id"`
	DocVersion int64  `json:"doc_version"`
	ChunkIndex int32  `json:"chunk_index"`
	ChunkCount int32  `json:"chunk_count"`
	Text       string `json:"text"`
	Title      string `json:"title,omitempty"`
	Source     string `json:"source,omitempty"`
	Heading    string `json:"heading,omitempty"`
	Model      string `json:"model,omitempty"`
	// Delivery names the delivery the chunk came in (event.Delivery: a
	// replay id or an ingest run id; "" when unknown).
	Delivery string    `json:"delivery,omitempty"`
	Vector   []float32 `json:"-"`
}

// Hit is a search result.
type Hit struct {
	Chunk
	Score float32
}

// Store is a vector store.
type Store interface {
	// Upsert stores chunks durably, replacing any with the same key.
	// Chunks of a failed version (FailVersion) are ignored when they come
	// from the failed delivery (or name none); a chunk of another delivery
	// (a replay, a fresh ingest) clears the tombstone and is stored.
	Upsert(ctx context.Context, chunks []Chunk) error
	// DeleteVersion removes every chunk of one document version.
	DeleteVersion(ctx context.Context, tenantID, docID string, version int64) error
	// FailVersion removes every chunk of a document version that failed
	// in delivery and remembers it (a tombstone), so that chunks of that
	// delivery arriving later are ignored: a failed version is never half
	// searchable.
	FailVersion(ctx context.Context, tenantID, docID string, version int64, delivery string) error
	// CountVersion returns how many chunks of a document version are stored.
	CountVersion(ctx context.Context, tenantID, docID string, version int64) (int, error)
	// Search returns the k chunks of the tenant's newest document versions
	// closest to query by cosine similarity, best first.
	Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error)
	// Len returns the number of stored chunks.
	Len(ctx context.Context) (int, error)
	// Describe names the store for logs and events.
	Describe() string
	Close() error
}

// Open opens the store named by dsn: a directory path or file://DIR for
// the embedded store. readOnly opens it for search alongside a writer.
func Open(ctx context.Context, dsn string, readOnly bool) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("store: PostgreSQL (pgvector) stores are not supported by this build; use a directory")
	case strings.HasPrefix(dsn, "file://"):
		return OpenEmbedded(strings.TrimPrefix(dsn, "file://"), readOnly)
	case dsn == "":
		return nil, fmt.Errorf("store: empty store location")
	default:
		return OpenEmbedded(dsn, readOnly)
	}
}
