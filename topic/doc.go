// Package topic declares ragpipe's topics and applies the declaration to a
// cluster with kadm.
//
// The spec is declarative: one Spec per topic with its partitions,
// replication factor and configs. Apply creates what is missing and checks
// what exists; it never deletes or shrinks anything. An existing topic that
// differs from the spec is reported as drift (fewer partitions than wanted,
// another replication factor, a config with another value) so that an
// operator can decide; running Apply twice changes nothing the second time.
//
// Production defaults: 12 partitions (parallelism for up to 12 consumers
// per group, and headroom for the engine's in-partition concurrency),
// replication factor 3 with min.insync.replicas 2 (a write survives one
// broker loss and acks=all writes keep working with one broker down),
// seven days of retention with the delete policy (replay window; disks stay
// bounded). The exception is documents.catalog, which ingest reads back to
// skip unchanged documents: compacted (the last entry of each key is kept,
// without retention by time), with hour-long segments and a low dirty ratio
// so that it compacts on small clusters too; a catalog topic with another
// cleanup.policy is drift like any other config.
package topic
