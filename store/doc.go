// Package store holds indexed chunks and answers nearest-neighbour queries.
//
// Open picks the store from its location: a directory or file://DIR is
// the embedded store (the default), postgres://… or postgresql://… is
// PostgreSQL with pgvector; any other scheme is an error that lists these.
//
// # Semantics (both stores; store/storetest checks them)
//
//   - Upserts are keyed by (tenant, document, version, chunk index): a
//     replayed record overwrites itself instead of adding a duplicate, and
//     an upsert is durable (fsynced, or committed) before it returns, so
//     the index stage may commit its input offsets after it.
//   - A document has at most one searchable version: its newest complete
//     one (all ChunkCount chunks stored). A new version's chunks are stored
//     alongside; the upsert that completes it makes it searchable and
//     removes the older versions in one step, so a search sees the old
//     version or the new one, never a mix and never neither. A document's
//     first version is searchable once complete.
//   - Chunks of a version older than the searchable one are ignored (late
//     replays), as are chunks of a failed version: FailVersion removes the
//     version and leaves a tombstone. DeleteVersion removes a version
//     without a tombstone. DeleteDocument removes a document's versions up
//     to a given one and leaves a tombstone: late chunks of them leave
//     nothing behind, while a newer version (the document written again)
//     is indexed.
//   - Every search is scoped to one tenant (an empty tenant is an error);
//     no query reads or changes another tenant's chunks. Scores are cosine
//     similarity, best first.
//   - The first stored vector fixes the store's dimension: one store is one
//     embedding space (one model). A vector or query of another dimension
//     is an error (ErrDimension), never a silent empty result; a different
//     model belongs in another index namespace (below).
//
// # Index namespaces
//
// A store location (Open's dsn) holds one or more index namespaces
// (Namespaces, OpenNamespaces; storetest.RunNamespaces checks both
// stores), each a Store with the semantics above, for one model and
// dimension, in state building, active or retired:
//
//   - Exactly one namespace is active; Activate switches in one step (one
//     transaction, one atomic rename of the registry file) and retires the
//     old one, which is kept until Drop. Drop refuses the active one
//     (ErrActiveNamespace).
//   - List reads the registry on every call and an opened Store stays on
//     its namespace: a reader sees a switch when it opens the active
//     namespace again (`ragpipe search` does so per query), never a mix.
//   - "default" is the location itself (the store as it was before
//     namespaces: the schema's tables, the directory's log); a location
//     without a registry holds it alone, active, with no model recorded
//     until Record (the Router calls it on the first upsert).
//   - PostgreSQL: the registry is the index_namespaces table (migration
//     0004) of the location's schema; namespace NAME is the schema
//     <schema>_ns_NAME with the same migrated tables, its own vector(N)
//     column and HNSW index. Embedded: the registry is namespaces.json,
//     replaced atomically (write, fsync, rename, fsync of the directory)
//     under an flock on namespaces.lock; namespace NAME lives in
//     namespaces/NAME with its own log and writer lock. Drop of an
//     embedded namespace another process writes is refused (ErrInUse).
//   - Router is the Store the index stage writes through: each chunk to
//     the building or active namespace of its model and dimension (the
//     registry read on every Upsert), a retired model's chunks skipped, a
//     model no namespace takes refused (NoNamespaceError,
//     ErrNoModelNamespace) with nothing of the call stored, Searchable
//     true only for a version that went to the active namespace, deletes and
//     failures applied to every namespace (one another process writes, in
//     the embedded store, is skipped: `ragpipe reembed`, its writer,
//     applies documents.deleted itself, but not documents.failed). A
//     writer the Router opened is closed only when no call uses it
//     (refcounted); one it upserted into stays open until retired or
//     dropped, and one opened only for a delete or failure in a
//     non-active embedded namespace is let go after it.
//
// # Embedded
//
// The embedded store keeps every chunk in memory and appends each change
// to a log file under its directory (vectors.log), fsynced before Upsert
// returns. Opening the store replays the log, which rebuilds the same
// searchable versions; a torn last line from a crash is ignored. When the
// log holds more than twice the live entries it is rewritten on open.
// Search is exact cosine similarity over the tenant's searchable chunks: a
// brute-force scan, fine up to a few hundred thousand chunks. One process
// writes a store at a time (an flock on the directory guards it); any
// number may open it read-only, e.g. `ragpipe search` while `ragpipe
// index` runs (a reader sees the log as of its open).
//
// # PostgreSQL
//
// The tables live in the first schema of the connection's search_path
// (set search_path in the DSN to keep several stores in one database).
// Opening a writer applies the embedded migrations (migrations/NNNN_*.sql)
// that schema_migrations does not list, in one transaction under an
// advisory lock; a reader only checks the version. The vector extension
// is created if missing (which needs the privilege to do so).
//
// The chunks table has one row per chunk: text, metadata (title, source,
// heading, model) as jsonb, the embedding, and a searchable flag that is
// true exactly for the chunks of the document's live version (the
// documents table). An upsert is one transaction: one multi-row INSERT …
// ON CONFLICT over unnest'ed arrays (the batch's last write per key wins),
// then one statement that promotes the versions the batch completed
// (flags them searchable, deletes older versions). Search is one
// read-only statement, so it sees one snapshot; tenant_id is in every
// query's key or filter.
//
// Dimension: the migration creates the embedding column as `vector`
// without a dimension; the first upsert records the dimension
// (vector_dimension), narrows the column to vector(N) and creates the HNSW
// index (vector_cosine_ops, partial on searchable) in its transaction. One
// table with a typed column rather than one table per dimension: a store
// is one embedding space, vectors of different models are not comparable
// anyway, the database itself then refuses a wrong-sized vector, and HNSW
// needs a fixed dimension. Vectors above 2000 dimensions (HNSW's limit)
// are searched by exact scan. Search uses pgvector's iterative index scan
// (0.8+) so that the tenant filter does not cut results short.
//
// Several index processes may write one PostgreSQL store. Documents are
// partitioned by key, so a document normally has one writer; during a
// rebalance two may overlap, so every write takes a transaction-scoped
// advisory lock per document first (in key order): a replay racing a
// version swap cannot leave the old version searchable.
//
// A failed version is tombstoned with the delivery that failed (a replay
// id or an ingest run id, see event.Delivery): later chunks of that
// delivery are ignored, while a chunk of another delivery (a replay, a
// fresh ingest) clears the tombstone — in both stores, and in the
// embedded store also when its log is replayed on open.
package store
