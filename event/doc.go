// Package event holds the wire conventions that every ragpipe stage shares
// when it reads or writes Kafka records: topic names, record keys, the
// encoding of values and the headers that carry lineage and dead-letter
// information. Stages use it instead of talking to protobuf and kgo
// directly, so that all of them agree on the bytes.
//
// # Topics and messages
//
// Each topic carries one message type of package ragpipe.v1 (see
// proto/ragpipe/v1):
//
//	documents.raw     DocumentRaw      one record per document version (content inline up to RawInlineMax, else a blob reference)
//	documents.parsed  ChunkParsed      one record per chunk (normal priority)
//	documents.parsed.high, documents.parsed.low
//	                  ChunkParsed      the same, for the high and low priorities
//	chunks.embedded   ChunkEmbedded    one record per chunk
//	vectors.indexed   DocumentIndexed  one record per document version
//	documents.failed  DocumentFailed   one record per failure given up on
//	documents.deleted DocumentDeleted  one record per document delete
//	documents.dlq     (the failed input record, unchanged, plus headers)
//	documents.catalog CatalogEntry     one record per searchable document version; compacted, a tombstone per deleted document
//
// # Priorities
//
// A document's chunks travel on the topic of its Priority (PriorityTopic):
// documents.parsed.high, documents.parsed (normal, the default, so that
// every reader of documents.parsed keeps working) or documents.parsed.low.
// ParsedTopics lists the three, highest first; every consumer of chunks
// reads all of them. On documents.raw, the ragpipe.priority header
// (HeaderPriority) names the priority of the document's chunks for the
// parse stage. Order holds per document within a topic; a document
// written at two priorities is ordered by its versions, not by offsets.
//
// # Keys
//
// Every record about a document is keyed "<tenant_id>/<doc_id>" (Key,
// ParseKey), so that all the records of a document, across its versions,
// land on the same partition and are consumed in order. Tenant IDs must not
// contain '/'; document IDs may, ParseKey splits at the first '/'.
//
// # Values
//
// Values are the protobuf binary encoding of the message (Encode, NewRecord),
// with deterministic map ordering, and a header
//
//	content-type: application/x-protobuf; messageType=ragpipe.v1.ChunkParsed
//
// that names the message type, because protobuf bytes do not say which
// message they hold (ChunkParsed and ChunkEmbedded even share field numbers
// 1-7 and would decode as each other).
//
// The Decode functions accept a record without the content-type header, but
// reject one whose header names another media type or message type. They
// also reject bytes that are not a valid message, and messages that break
// the invariants every stage relies on: tenant_id and doc_id set (tenant_id
// without '/'), doc_version not negative, chunk_index in [0, chunk_count)
// for chunks, a non-empty vector for embedded chunks, a document_hash for
// catalog entries, and for raw documents exactly one of content (within
// RawInlineMax) and content_ref with a content hash. Each such error is
// wrapped with fault.Record: the record itself is bad, retrying will not
// help, and the engine sends it to the dead-letter queue after its attempt
// limit. Encode runs the same checks, so that a stage never writes what the
// next stage would reject; its errors are fault.Record errors too, since
// they come from the content of the record being processed.
//
// Unknown fields are not an error: a consumer built against an older schema
// reads records written with a newer one, ignoring (and keeping, in the
// message's unknown fields) what it does not know. This is how the schema
// evolves: fields are only ever added, with fresh numbers, which the buf
// breaking check in mk/proto.mk enforces.
//
// # Headers
//
// Kafka headers are ordered and may repeat. Header returns the last header
// of a name, so that a header appended later (by a later stage, or by a
// second trip through the dead-letter queue) wins.
//
// Lineage returns the ragpipe.source.* headers that tie an output record to
// the input record it was derived from (topic, partition, offset).
//
// DeadLetter builds the record sent to the dead-letter topic: the failed
// input record's key, value and headers, unchanged, followed by
// ragpipe.dlq.* headers that say where it came from and why it failed, and
// by the same facts under Kafka Connect's __connect.errors.* names, so that
// tools written for Connect's dead-letter queues understand it. The
// original timestamp is not kept: with CreateTime retention an old
// timestamp would make the dead letter expire early.
//
// Replay headers (ragpipe.replay.count, .id, .original.topic/partition/
// offset) mark a record republished from the dead-letter queue, and
// ragpipe.ingest.id the ingest run that wrote a chunk. Delivery names the
// delivery a record belongs to (its replay id, else its ingest id): the
// embed stage's failure memory and the store's tombstones are kept per
// delivery, so a replay or a fresh ingest of a failed version is processed
// again. Stages carry these headers onto what they derive
// (DeliveryHeaders).
//
// The package holds no state; every function is safe for concurrent use.
package event
