package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	// Metadata is the document's metadata and the chunk's own (e.g. page),
	// as in ChunkParsed; SearchWhere filters on it.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Delivery names the delivery the chunk came in (event.Delivery: a
	// replay id or an ingest run id; "" when unknown).
	Delivery string    `json:"delivery,omitempty"`
	Vector   []float32 `json:"-"`
}

// Hit is a search result. Its Chunk may come without its Vector.
type Hit struct {
	Chunk
	Score float32
}

// Store is a vector store. Every implementation passes the conformance
// suite in store/storetest; the semantics below are what it checks.
type Store interface {
	// Upsert stores chunks durably (committed before it returns),
	// replacing any with the same key (tenant, document, version, chunk
	// index). Chunks of a failed version (FailVersion) are ignored when
	// they come from the failed delivery (or name none); a chunk of another
	// delivery (a replay, a fresh ingest) clears the tombstone and is
	// stored. Chunks of versions older than the document's searchable
	// version are ignored. When a version has all its chunks and is newer
	// than the searchable one, it becomes the searchable version and older
	// versions are removed, in one step. A vector whose dimension differs
	// from the store's is an error (ErrDimension) and nothing of the call
	// is stored.
	Upsert(ctx context.Context, chunks []Chunk) error
	// DeleteVersion removes every chunk of one document version.
	DeleteVersion(ctx context.Context, tenantID, docID string, version int64) error
	// FailVersion removes every chunk of a document version that failed
	// in delivery and remembers it (a tombstone), so that chunks of that
	// delivery arriving later are ignored: a failed version is never half
	// searchable.
	FailVersion(ctx context.Context, tenantID, docID string, version int64, delivery string) error
	// DeleteDocument removes every version of a document up to and
	// including upTo and remembers it, so that chunks of those versions
	// arriving later are ignored; newer versions (the document written
	// again) are indexed as usual.
	DeleteDocument(ctx context.Context, tenantID, docID string, upTo int64) error
	// CountVersion returns how many chunks of a document version are stored.
	CountVersion(ctx context.Context, tenantID, docID string, version int64) (int, error)
	// Search returns the k chunks of one tenant's searchable document
	// versions (each document's newest complete version) closest to query
	// by cosine similarity, best first. tenantID must not be empty; a
	// query whose dimension differs from the stored vectors' is an error
	// (ErrDimension).
	Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error)
	// SearchWhere is Search restricted to chunks whose Metadata holds
	// every key of where with the same value (nil or empty: no filter).
	SearchWhere(ctx context.Context, tenantID string, query []float32, k int, where map[string]string) ([]Hit, error)
	// Len returns the number of stored chunks (searchable or not).
	Len(ctx context.Context) (int, error)
	// Describe names the store for logs and events (no credentials).
	Describe() string
	Close() error
}

// ErrDimension is matched (errors.Is) by a DimensionError.
var ErrDimension = errors.New("vector dimension mismatch")

// DimensionError reports a vector whose dimension is not the store's.
type DimensionError struct {
	Got, Want int
	// Op is "search" or "upsert".
	Op string
}

func (e *DimensionError) Error() string {
	if e.Op == "search" {
		return fmt.Sprintf("store: the query vector has %d dimensions but the index holds %d-dimensional vectors: search with the embedding model that built the index", e.Got, e.Want)
	}
	return fmt.Sprintf("store: a %d-dimensional vector cannot go into an index of %d-dimensional vectors (a different embedding model needs its own index)", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrDimension) hold.
func (e *DimensionError) Is(target error) bool { return target == ErrDimension }

// errReadOnly is a write to a store or registry opened read-only.
var errReadOnly = errors.New("store: opened read-only")

// Supported lists the store locations Open accepts.
const Supported = "a directory or file://DIR (embedded store), postgres:// or postgresql:// (PostgreSQL with pgvector)"

var schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// Open opens the store named by dsn: a directory path or file://DIR for
// the embedded store, postgres://… or postgresql://… for PostgreSQL with
// pgvector. Any other scheme is an error. readOnly opens it for search
// alongside a writer.
func Open(ctx context.Context, dsn string, readOnly bool) (Store, error) {
	dir, pg, err := location(dsn)
	if err != nil {
		return nil, err
	}
	if pg {
		return OpenPostgres(ctx, PostgresConfig{DSN: dsn, ReadOnly: readOnly})
	}
	return OpenEmbedded(dir, readOnly)
}

// location parses a store location as Open takes it: pg for PostgreSQL,
// else the embedded store's directory.
func location(dsn string) (dir string, pg bool, err error) {
	if dsn == "" {
		return "", false, fmt.Errorf("store: empty store location; supported: %s", Supported)
	}
	m := schemeRe.FindStringSubmatch(dsn)
	if m == nil {
		return dsn, false, nil
	}
	switch strings.ToLower(m[1]) {
	case "file":
		dir := dsn[len(m[0]):]
		if dir == "" {
			return "", false, fmt.Errorf("store: %q names no directory", dsn)
		}
		return dir, false, nil
	case "postgres", "postgresql":
		return "", true, nil
	default:
		return "", false, fmt.Errorf("store: unsupported store scheme %q in %q; supported: %s", m[1], redact(dsn), Supported)
	}
}

// redact drops a password from a URL-like location.
var userinfoRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):[^/@]*@`)

func redact(dsn string) string { return userinfoRe.ReplaceAllString(dsn, "$1:***@") }
