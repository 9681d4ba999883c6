package event

// Topic names. Each topic carries one message type of ragpipe.v1; see the
// package documentation.
const (
	// TopicRaw carries ragpipe.v1.DocumentRaw, one record per document
	// version submitted for parsing.
	TopicRaw = "documents.raw"
	// TopicParsed carries ragpipe.v1.ChunkParsed, one record per chunk.
	TopicParsed = "documents.parsed"
	// TopicParsedHigh and TopicParsedLow carry ChunkParsed like
	// TopicParsed, for the high and low priorities (PriorityTopic);
	// normal priority is TopicParsed itself.
	TopicParsedHigh = "documents.parsed.high"
	TopicParsedLow  = "documents.parsed.low"
	// TopicEmbedded carries ragpipe.v1.ChunkEmbedded, one record per chunk.
	TopicEmbedded = "chunks.embedded"
	// TopicIndexed carries ragpipe.v1.DocumentIndexed, one record per
	// document version fully indexed.
	TopicIndexed = "vectors.indexed"
	// TopicFailed carries ragpipe.v1.DocumentFailed.
	TopicFailed = "documents.failed"
	// TopicDeleted carries ragpipe.v1.DocumentDeleted, one record per
	// delete request; the index stage consumes it.
	TopicDeleted = "documents.deleted"
	// TopicDLQ carries failed input records unchanged, with the dead-letter
	// headers appended (see DeadLetter).
	TopicDLQ = "documents.dlq"
	// TopicCatalog carries ragpipe.v1.CatalogEntry, the content hash of
	// each document's searchable version, keyed like the other topics;
	// compacted, and a deleted document's key gets a tombstone.
	TopicCatalog = "documents.catalog"
)

// Sizes of DocumentRaw records: content up to RawInlineMax bytes travels in
// the record; larger documents go to the blob store and the record holds a
// reference (DocumentRaw.content_ref). RawMaxMessageBytes, the topic's
// max.message.bytes, leaves room for the other fields, the metadata and
// the record batch overhead.
const (
	RawInlineMax       = 4 << 20
	RawMaxMessageBytes = RawInlineMax + 1<<20
)

// Topics returns every pipeline topic, in the order of the pipeline.
func Topics() []string {
	return []string{TopicRaw, TopicParsed, TopicParsedHigh, TopicParsedLow, TopicEmbedded, TopicIndexed, TopicFailed, TopicDLQ, TopicDeleted, TopicCatalog}
}
