package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// hnswMaxDims is the largest dimension pgvector's HNSW index takes for the
// vector type; larger vectors are searched by exact scan.
const hnswMaxDims = 2000

// PostgresConfig configures the PostgreSQL (pgvector) store.
type PostgresConfig struct {
	// DSN is a postgres:// or postgresql:// URL (or key=value string). Its
	// search_path parameter chooses the schema that holds the tables.
	DSN string
	// ReadOnly opens the store for search: no migrations, every
	// transaction read-only.
	ReadOnly bool
	// MaxConns bounds the connection pool (default 8).
	MaxConns int32
	// ConnectTimeout bounds each connection attempt when the DSN sets
	// none (default 10 s).
	ConnectTimeout time.Duration
	// EfSearch is the HNSW candidate list size of a search, raised to k
	// when k is larger (default 100).
	EfSearch int
	// Schema, when set, is put first on the DSN's search_path: the
	// schema of an index namespace (see Namespaces), which must exist.
	Schema string
}

func (c *PostgresConfig) setDefaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 8
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.EfSearch <= 0 {
		c.EfSearch = 100
	}
}

// Postgres is the store on PostgreSQL with pgvector.
type Postgres struct {
	cfg       PostgresConfig
	pool      *pgxpool.Pool
	desc      string
	iterative bool // pgvector ≥ 0.8: iterative index scans for filtered search

	mu  sync.Mutex
	dim int // the store's dimension once known
}

// OpenPostgres connects, applies the schema migrations (unless read-only)
// and returns the store.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	cfg.setDefaults()
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: parsing the PostgreSQL DSN: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	cc := pcfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = cfg.ConnectTimeout
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "ragpipe"
	}
	if cfg.ReadOnly {
		cc.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if cfg.Schema != "" {
		base := cc.RuntimeParams["search_path"]
		if base == "" {
			base = `"$user", public`
		}
		cc.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize() + ", " + base
	}
	s := &Postgres{cfg: cfg, desc: describePostgres(cc)}

	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return nil, fmt.Errorf("store: connecting to %s: %w", s.desc, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	extVersion, err := ensureVector(ctx, conn, cfg.ReadOnly)
	if err != nil {
		return nil, err
	}
	s.iterative = versionAtLeast(extVersion, 0, 8)
	if cfg.ReadOnly {
		err = checkSchema(ctx, conn, s.desc)
	} else {
		err = migrate(ctx, conn)
	}
	if err != nil {
		return nil, err
	}

	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		return pgxvec.RegisterTypes(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to %s: %w", s.desc, err)
	}
	s.pool = pool
	if _, err := s.dimension(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// describePostgres names the database without credentials.
func describePostgres(cc *pgx.ConnConfig) string {
	d := fmt.Sprintf("postgres://%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	if sp := cc.RuntimeParams["search_path"]; sp != "" {
		d += "?search_path=" + url.QueryEscape(sp)
	}
	return d
}

// ensureVector checks that the vector type resolves on the search path,
// creating the extension when it is missing and the store may write.
func ensureVector(ctx context.Context, conn *pgx.Conn, readOnly bool) (string, error) {
	var (
		version, schema *string
		onPath          bool
	)
	err := conn.QueryRow(ctx, `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector'),
		(SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'),
		to_regtype('vector') IS NOT NULL`).Scan(&version, &schema, &onPath)
	if err != nil {
		return "", fmt.Errorf("store: checking for pgvector: %w", err)
	}
	switch {
	case version == nil && readOnly:
		return "", errors.New("store: the pgvector extension is not installed in this database (a writer, `ragpipe index`, creates it)")
	case version == nil:
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
			return "", fmt.Errorf("store: the pgvector extension is not installed and could not be created (run CREATE EXTENSION vector as a privileged user): %w", err)
		}
		return ensureVector(ctx, conn, readOnly)
	case !onPath:
		return "", fmt.Errorf("store: pgvector is installed in schema %q, which is not on the connection's search_path", *schema)
	}
	if !versionAtLeast(*version, 0, 5) {
		return "", fmt.Errorf("store: pgvector %s is too old: HNSW indexes need 0.5.0 or later", *version)
	}
	return *version, nil
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations, ordered by version (the
// number before the first '_' of the file name).
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("store: migration %s is not named NNNN_name.sql", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the missing migrations in one transaction, serialised
// across processes by an advisory lock on the schema.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("store: migrating: %w", err)
		}
		if schema == nil {
			return errors.New("store: no schema of the search_path exists (create it, or fix search_path in the DSN)")
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('ragpipe-store'), hashtext($1))", *schema); err != nil {
			return fmt.Errorf("store: migrating: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("store: migrating: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("store: migrating: %w", err)
		}
		if latest := ms[len(ms)-1].version; current > latest {
			return fmt.Errorf("store: schema %q is at version %d, newer than this ragpipe knows (%d)", *schema, current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			slog.Info("store: applied migration", "schema", *schema, "migration", m.name)
		}
		return nil
	})
}

// checkSchema lets a reader open only a store a writer has migrated to
// this build's version.
func checkSchema(ctx context.Context, conn *pgx.Conn, desc string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	err = conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("store: no index in %s (run `ragpipe index --store …` first)", desc)
	}
	if err != nil {
		return fmt.Errorf("store: reading the schema version: %w", err)
	}
	if latest := ms[len(ms)-1].version; current != latest {
		return fmt.Errorf("store: %s has schema version %d, this ragpipe needs %d (a writer, `ragpipe index`, migrates it)", desc, current, latest)
	}
	return nil
}

// dimension returns the store's dimension, 0 while it holds no vector.
func (s *Postgres) dimension(ctx context.Context) (int, error) {
	s.mu.Lock()
	d := s.dim
	s.mu.Unlock()
	if d != 0 {
		return d, nil
	}
	err := s.pool.QueryRow(ctx, "SELECT dimension FROM vector_dimension").Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: reading the dimension: %w", err)
	}
	s.mu.Lock()
	s.dim = d
	s.mu.Unlock()
	return d, nil
}

// fixDimension sets the store's dimension on its first upsert: it narrows
// the embedding column to vector(dim) and builds the HNSW index, inside
// tx. It returns the dimension in force, which another writer may have
// set first.
func (s *Postgres) fixDimension(ctx context.Context, tx pgx.Tx, dim int) (int, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('ragpipe-store-dimension'), hashtext(current_schema()))"); err != nil {
		return 0, err
	}
	var d int
	err := tx.QueryRow(ctx, "SELECT dimension FROM vector_dimension").Scan(&d)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO vector_dimension (dimension) VALUES ($1)", dim); err != nil {
		return 0, err
	}
	// dim is an int: formatting it into DDL is safe.
	if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE chunks ALTER COLUMN embedding TYPE vector(%d)", dim)); err != nil {
		return 0, err
	}
	if dim <= hnswMaxDims {
		if _, err := tx.Exec(ctx, "CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops) WHERE searchable"); err != nil {
			return 0, err
		}
	} else {
		slog.Warn("store: vectors too large for an HNSW index; searches scan exactly", "dimension", dim, "max", hnswMaxDims)
	}
	slog.Info("store: dimension set", "store", s.desc, "dimension", dim)
	return dim, nil
}

// clean makes text storable: PostgreSQL text and jsonb hold neither NUL
// nor invalid UTF-8.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

type chunkMeta struct {
	Title   string `json:"title,omitempty"`
	Source  string `json:"source,omitempty"`
	Heading string `json:"heading,omitempty"`
	Model   string `json:"model,omitempty"`
	// Meta is Chunk.Metadata; SearchWhere filters with jsonb containment.
	Meta map[string]string `json:"meta,omitempty"`
}

// reviveSQL clears the tombstone of a failed version when a chunk of it
// comes in another delivery (a replay, a fresh ingest): that delivery is
// processed again. A chunk of the failed delivery, or naming none, keeps
// it (upsertSQL then ignores the chunk).
const reviveSQL = `
DELETE FROM failed_versions f
USING unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS s(t, d, v, dl)
WHERE f.tenant_id = s.t AND f.doc_id = s.d AND f.doc_version = s.v AND s.dl <> '' AND f.delivery <> s.dl`

const upsertSQL = `
INSERT INTO chunks (tenant_id, doc_id, doc_version, chunk_index, chunk_count, text, metadata, embedding, searchable)
SELECT s.t, s.d, s.v, s.i, s.n, s.x, s.m, s.e, coalesce(doc.live_version = s.v, false)
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::integer[], $6::text[], $7::jsonb[], $8::vector[])
	AS s(t, d, v, i, n, x, m, e)
LEFT JOIN documents doc ON doc.tenant_id = s.t AND doc.doc_id = s.d
WHERE (doc.live_version IS NULL OR s.v >= doc.live_version)
	AND NOT EXISTS (SELECT 1 FROM failed_versions f WHERE f.tenant_id = s.t AND f.doc_id = s.d AND f.doc_version = s.v)
	AND NOT EXISTS (SELECT 1 FROM deleted_documents x WHERE x.tenant_id = s.t AND x.doc_id = s.d AND s.v <= x.up_to)
ON CONFLICT (tenant_id, doc_id, doc_version, chunk_index) DO UPDATE
	SET chunk_count = EXCLUDED.chunk_count, text = EXCLUDED.text, metadata = EXCLUDED.metadata,
		embedding = EXCLUDED.embedding, searchable = EXCLUDED.searchable`

// promoteSQL makes each touched version that is now complete, and newer
// than its document's searchable version, the searchable one, and removes
// the document's older versions: one statement, so a search sees the old
// version or the new, never both nor neither.
const promoteSQL = `
WITH touched AS (
	SELECT DISTINCT s.t, s.d, s.v, s.n FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[]) AS s(t, d, v, n)
), complete AS (
	SELECT t.t, t.d, max(t.v) AS v FROM touched t
	WHERE (SELECT count(*) FROM chunks c WHERE c.tenant_id = t.t AND c.doc_id = t.d AND c.doc_version = t.v) >= t.n
	GROUP BY t.t, t.d
), promoted AS (
	INSERT INTO documents AS doc (tenant_id, doc_id, live_version) SELECT t, d, v FROM complete
	ON CONFLICT (tenant_id, doc_id) DO UPDATE SET live_version = EXCLUDED.live_version, updated_at = now()
		WHERE doc.live_version < EXCLUDED.live_version
	RETURNING doc.tenant_id, doc.doc_id, doc.live_version
), shown AS (
	UPDATE chunks c SET searchable = true FROM promoted p
	WHERE c.tenant_id = p.tenant_id AND c.doc_id = p.doc_id AND c.doc_version = p.live_version
	RETURNING 1
), gone AS (
	DELETE FROM chunks c USING promoted p
	WHERE c.tenant_id = p.tenant_id AND c.doc_id = p.doc_id AND c.doc_version < p.live_version
	RETURNING 1
)
SELECT (SELECT count(*) FROM promoted), (SELECT count(*) FROM gone)`

// lockDocsSQL serialises the writers of the same documents (two index
// workers during a rebalance): transaction-scoped advisory locks, taken in
// key order, before the statements that read the documents' state.
const lockDocsSQL = `
SELECT count(pg_advisory_xact_lock(k)) FROM (
	SELECT DISTINCT hashtextextended(x.t || '/' || x.d, 0) AS k FROM unnest($1::text[], $2::text[]) AS x(t, d) ORDER BY 1
) s`

type chunkKey struct {
	tenant, doc string
	version     int64
	index       int32
}

// Upsert implements Store: one transaction of two statements, a
// multi-row insert and the promotion of completed versions.
func (s *Postgres) Upsert(ctx context.Context, chunks []Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	if s.cfg.ReadOnly {
		return errReadOnly
	}
	dim := len(chunks[0].Vector)
	for _, c := range chunks {
		if len(c.Vector) != dim {
			return &DimensionError{Got: len(c.Vector), Want: dim, Op: "upsert"}
		}
	}
	known, err := s.dimension(ctx)
	if err != nil {
		return err
	}
	if known != 0 && known != dim {
		return &DimensionError{Got: dim, Want: known, Op: "upsert"}
	}
	// One row per key, the last one winning: ON CONFLICT cannot touch a
	// row twice in one statement.
	last := make(map[chunkKey]int, len(chunks))
	for i, c := range chunks {
		last[chunkKey{c.TenantID, c.DocID, c.DocVersion, c.ChunkIndex}] = i
	}
	n := len(last)
	var (
		tenants  = make([]string, 0, n)
		docs     = make([]string, 0, n)
		versions = make([]int64, 0, n)
		indexes  = make([]int32, 0, n)
		counts   = make([]int32, 0, n)
		texts    = make([]string, 0, n)
		metas    = make([]string, 0, n)
		delivs   = make([]string, 0, n)
		vecs     = make([]pgvector.Vector, 0, n)
	)
	for i, c := range chunks {
		if last[chunkKey{c.TenantID, c.DocID, c.DocVersion, c.ChunkIndex}] != i {
			continue
		}
		meta, err := json.Marshal(chunkMeta{Title: clean(c.Title), Source: clean(c.Source), Heading: clean(c.Heading), Model: clean(c.Model), Meta: cleanMap(c.Metadata)})
		if err != nil {
			return fmt.Errorf("store: encoding metadata: %w", err)
		}
		tenants = append(tenants, clean(c.TenantID))
		docs = append(docs, clean(c.DocID))
		versions = append(versions, c.DocVersion)
		indexes = append(indexes, c.ChunkIndex)
		counts = append(counts, c.ChunkCount)
		texts = append(texts, clean(c.Text))
		metas = append(metas, string(meta))
		delivs = append(delivs, clean(c.Delivery))
		vecs = append(vecs, pgvector.NewVector(c.Vector))
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if known == 0 {
			d, err := s.fixDimension(ctx, tx, dim)
			if err != nil {
				return fmt.Errorf("store: setting the dimension: %w", err)
			}
			if d != dim {
				return &DimensionError{Got: dim, Want: d, Op: "upsert"}
			}
		}
		if _, err := tx.Exec(ctx, lockDocsSQL, tenants, docs); err != nil {
			return fmt.Errorf("store: locking documents: %w", err)
		}
		if _, err := tx.Exec(ctx, reviveSQL, tenants, docs, versions, delivs); err != nil {
			return fmt.Errorf("store: clearing tombstones of other deliveries: %w", err)
		}
		if _, err := tx.Exec(ctx, upsertSQL, tenants, docs, versions, indexes, counts, texts, metas, vecs); err != nil {
			return fmt.Errorf("store: upserting %d chunks: %w", n, err)
		}
		if _, err := tx.Exec(ctx, promoteSQL, tenants, docs, versions, counts); err != nil {
			return fmt.Errorf("store: promoting complete versions: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if known == 0 {
		s.mu.Lock()
		s.dim = dim
		s.mu.Unlock()
	}
	return nil
}

// versionTx runs sql (with tenant, document and version as $1..$3, and
// extra from $4) in a transaction holding the document's lock.
func (s *Postgres) versionTx(ctx context.Context, sql, tenantID, docID string, version int64, extra ...any) error {
	if s.cfg.ReadOnly {
		return errReadOnly
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockDocsSQL, []string{tenantID}, []string{docID}); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, append([]any{tenantID, docID, version}, extra...)...)
		return err
	})
}

// DeleteVersion implements Store.
func (s *Postgres) DeleteVersion(ctx context.Context, tenantID, docID string, version int64) error {
	err := s.versionTx(ctx, `WITH gone AS (
		DELETE FROM chunks WHERE tenant_id = $1 AND doc_id = $2 AND doc_version = $3 RETURNING 1)
		DELETE FROM documents WHERE tenant_id = $1 AND doc_id = $2 AND live_version = $3`, tenantID, docID, version)
	if err != nil {
		return fmt.Errorf("store: deleting version %d of %s: %w", version, docID, err)
	}
	return nil
}

// FailVersion implements Store.
func (s *Postgres) FailVersion(ctx context.Context, tenantID, docID string, version int64, delivery string) error {
	err := s.versionTx(ctx, `WITH tomb AS (
		INSERT INTO failed_versions (tenant_id, doc_id, doc_version, delivery) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, doc_id, doc_version) DO UPDATE SET delivery = EXCLUDED.delivery, failed_at = now() RETURNING 1
	), gone AS (
		DELETE FROM chunks WHERE tenant_id = $1 AND doc_id = $2 AND doc_version = $3 RETURNING 1)
	DELETE FROM documents WHERE tenant_id = $1 AND doc_id = $2 AND live_version = $3`, tenantID, docID, version, clean(delivery))
	if err != nil {
		return fmt.Errorf("store: failing version %d of %s: %w", version, docID, err)
	}
	return nil
}

// DeleteDocument implements Store.
func (s *Postgres) DeleteDocument(ctx context.Context, tenantID, docID string, upTo int64) error {
	err := s.versionTx(ctx, `WITH tomb AS (
		INSERT INTO deleted_documents AS x (tenant_id, doc_id, up_to) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, doc_id) DO UPDATE SET up_to = greatest(x.up_to, EXCLUDED.up_to), deleted_at = now()
		RETURNING 1
	), gone AS (
		DELETE FROM chunks WHERE tenant_id = $1 AND doc_id = $2 AND doc_version <= $3 RETURNING 1)
	DELETE FROM documents WHERE tenant_id = $1 AND doc_id = $2 AND live_version <= $3`, tenantID, docID, upTo)
	if err != nil {
		return fmt.Errorf("store: deleting %s: %w", docID, err)
	}
	return nil
}

// CountVersion implements Store.
func (s *Postgres) CountVersion(ctx context.Context, tenantID, docID string, version int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM chunks WHERE tenant_id = $1 AND doc_id = $2 AND doc_version = $3",
		tenantID, docID, version).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: counting chunks: %w", err)
	}
	return n, nil
}

// Len implements Store.
func (s *Postgres) Len(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM chunks").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting chunks: %w", err)
	}
	return n, nil
}

// Describe implements Store.
func (s *Postgres) Describe() string { return s.desc }

// Search implements Store. It runs in one read-only transaction, so it
// sees each document's searchable version as of one moment. Hits carry
// no vector.
func (s *Postgres) Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error) {
	return s.SearchWhere(ctx, tenantID, query, k, nil)
}

// cleanMap applies clean to a map's keys and values.
func cleanMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[clean(k)] = clean(v)
	}
	return out
}

// SearchWhere implements Store: the filter is jsonb containment on the
// chunk's metadata, applied during the HNSW scan (iterative scans keep
// going until k rows pass it).
func (s *Postgres) SearchWhere(ctx context.Context, tenantID string, query []float32, k int, where map[string]string) ([]Hit, error) {
	if err := checkSearch(tenantID, query, k); err != nil {
		return nil, err
	}
	dim, err := s.dimension(ctx)
	if err != nil {
		return nil, err
	}
	if dim == 0 {
		return nil, nil // nothing stored yet
	}
	if len(query) != dim {
		return nil, &DimensionError{Got: len(query), Want: dim, Op: "search"}
	}
	var hits []Hit
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ef := min(max(k, s.cfg.EfSearch), 1000)
		setup := "SELECT set_config('hnsw.ef_search', $1, true)"
		args := []any{strconv.Itoa(ef)}
		if s.iterative {
			// Filtering by tenant after the index scan could return
			// fewer than k hits; iterative scans keep going.
			setup += ", set_config('hnsw.iterative_scan', $2, true)"
			args = append(args, "relaxed_order")
		}
		if _, err := tx.Exec(ctx, setup, args...); err != nil {
			return err
		}
		filter, err := json.Marshal(map[string]any{"meta": cleanMap(where)})
		if err != nil {
			return err
		}
		if len(where) == 0 {
			filter = []byte("{}")
		}
		rows, err := tx.Query(ctx, `SELECT doc_id, doc_version, chunk_index, chunk_count, text, metadata, 1 - (embedding <=> $2)
			FROM chunks WHERE tenant_id = $1 AND searchable AND metadata @> $4::jsonb ORDER BY embedding <=> $2 LIMIT $3`,
			tenantID, pgvector.NewVector(query), k, string(filter))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				h     = Hit{Chunk: Chunk{TenantID: tenantID}}
				meta  chunkMeta
				score float64
			)
			if err := rows.Scan(&h.DocID, &h.DocVersion, &h.ChunkIndex, &h.ChunkCount, &h.Text, &meta, &score); err != nil {
				return err
			}
			h.Title, h.Source, h.Heading, h.Model, h.Metadata = meta.Title, meta.Source, meta.Heading, meta.Model, meta.Meta
			h.Score = float32(score)
			hits = append(hits, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: searching: %w", err)
	}
	// relaxed_order may return neighbours slightly out of order.
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	return hits, nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}
