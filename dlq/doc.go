// Package dlq reads, replays and purges ragpipe's dead-letter topic,
// documents.dlq.
//
// A dead letter is the failed input record, unchanged (key, value,
// headers), followed by the ragpipe.dlq.* and __connect.errors.* headers
// that event.DeadLetter appends. Parse turns one into an Entry: where it
// came from (ragpipe.dlq.topic, partition, offset), the stage, error class
// and message, attempts, tenant and document (from the key), and the chunk
// and version when the value decodes as a ChunkParsed or ChunkEmbedded.
//
// Invariants:
//
//   - Read reads a snapshot: every partition from its start to the end
//     offset it had when Read began; records written meanwhile are not
//     read. It never joins a consumer group and commits nothing.
//   - A Filter only selects; an empty Filter selects every record. Times
//     compare with the dead letter's record timestamp (when it was
//     dead-lettered), Since inclusive, Until exclusive.
//   - Replay republishes the original key, value and headers to the
//     original topic, without the dead-letter headers and without earlier
//     replay headers, and adds ragpipe.replay.count (the previous count plus
//     one), ragpipe.replay.id (one id per run) and
//     ragpipe.replay.original.topic/partition/offset (where the record was
//     when it failed). A record whose replay count is already at least
//     MaxReplays is refused: the loop guard. A dead letter without a
//     ragpipe.dlq.topic header is refused too. The replay id makes the
//     replayed records a delivery of their own (event.Delivery), which the
//     embed stage's failure memory and the store's tombstones let through.
//   - With Siblings (the CLI's default), a dead letter's version is
//     replayed whole: its other chunks (same key, version and delivery) are
//     read back from the original topic and replayed with the same replay
//     id and count, in chunk order, each chunk at most once per run.
//   - Purge deletes records of documents.dlq before the given offsets
//     (DeleteRecords); it never deletes past a partition's end offset.
//
// The package holds no global state.
package dlq
