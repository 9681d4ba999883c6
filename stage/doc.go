// Package stage holds ragpipe's pipeline stages, each a small composition
// of the consumer engine with an adapter:
//
//   - Ingest (files → documents.parsed, or the topic of Ingest.Priority)
//     walks paths, loads and chunks each file, and produces one
//     ChunkParsed per chunk in chunk order, each with the document hash
//     (the SHA-256 of the bytes parsed: each file is read once, and the
//     hash serves the source's version too; FileHash computes it for a
//     path). A file whose hash is its entry in
//     Ingest.Catalog (documents.catalog) is skipped and counted as
//     unchanged (the catalog's Hash knows no document of a partition it
//     did not read to its end, so such a file is published). A file that
//     cannot be read or parsed gets a line on stderr and a DocumentFailed
//     (stage "parse"); ingest goes on.
//   - Parse (documents.raw → documents.parsed) does the same for submitted
//     documents; the document hash is DocumentRaw.content_hash when it is
//     the SHA-256 of the bytes parsed, else empty.
//   - Embed (documents.parsed and its priority topics → chunks.embedded)
//     hands batches of chunks to an Embedder and emits one ChunkEmbedded
//     per chunk (document_hash copied); it reads every parsed topic
//     (event.ParsedTopics) in one group, weighted by priority
//     (DefaultPriorityWeights, 8:3:1).
//   - Index (chunks.embedded → store + vectors.indexed) upserts chunks into
//     the vector store and emits a DocumentIndexed when a document version
//     is complete, with a CatalogEntry on documents.catalog in the same
//     result when its chunks carry a document hash; a delete emits a
//     tombstone there. So the catalog holds exactly the searchable
//     versions: never a failed one, and never one stored in a building
//     index namespace (the Router's Searchable says no: search reads the
//     active namespace), which is neither announced nor cataloged.
//   - Reembed (documents.parsed and documents.deleted → one index
//     namespace) embeds with a new model and upserts in one handler, for
//     `ragpipe reembed`; EndOffsets and Progress tell when its group has
//     caught up with the end offsets noted at start. Its dead letters go
//     to the DLQ without a DocumentFailed (which would fail the version in
//     every namespace) and count in DeadLetters before their record is
//     done, so a caught-up group's count is complete. ReembedTopics is the one list of topics it reads.
//
// Each consumer stage describes its whole engine wiring as a Worker
// (EmbedWorker, IndexWorker, ReembedWorker): the topics it reads, its handler, its
// dead-letter function, the lineage of its outputs, its default group and
// batch size, and a probe of its server. Commands and the demo apply it to
// an engine.Config with Worker.Configure and add only operational settings,
// so the wiring exists once. Order, batching, retries, offsets and the
// dead-letter queue are the engine's; a stage only maps inputs to outputs
// and classifies errors with package fault.
//
// DeadLetter is shared by the consumer stages: after the engine gives up
// on a record it writes the original to documents.dlq with headers saying
// why, and a DocumentFailed to documents.failed.
package stage
