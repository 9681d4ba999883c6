// Package catalog reads documents.catalog back: the compacted topic on
// which the index stage writes one ragpipe.v1.CatalogEntry per document
// version that became searchable (keyed "<tenant_id>/<doc_id>", like every
// record about a document), and a tombstone (a record without a value)
// per deleted document.
//
// Read takes one snapshot of a tenant's part of the topic: it lists each
// partition's start and end offsets when it begins, reads every partition
// from its start to that end with a client of its own (no consumer group,
// nothing committed, read_committed so that an aborted transaction's
// entries are not seen) and keeps, per key of the tenant, the last entry:
// a later entry replaces an earlier one and a tombstone removes it. Keys
// of other tenants are skipped, and so is an entry that does not decode
// (its document counts as unknown, so it is published again: the safe
// side). Entries written after Read began are not seen.
//
// The end is reached exactly: transaction markers, which the index stage
// writes in exactly-once mode and which would otherwise never be
// delivered, are kept and count as read. As a safety net, a partition
// that sends nothing for IdleStop is taken as read (a record removed by
// compaction at the very end of a partition, or a transaction still open,
// whose records a read_committed reader does not get), but not as
// complete: Incomplete lists such partitions, and Hash knows no document
// whose key lies on one (keys placed by murmur2, as Kafka's default
// partitioner and the index stage's producer do), so ingest publishes
// those documents again instead of trusting an entry that a hidden later
// record (a tombstone) may have replaced.
//
// A missing topic (a cluster whose topics predate the catalog) is
// ErrNoTopic, for the caller to warn about. The Catalog returned is
// read-only and safe for concurrent use; the package holds no state.
package catalog
