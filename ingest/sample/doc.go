// Package sample holds a small built-in corpus for demonstrations and tests:
// a few dozen original technical notes on running a RAG ingestion pipeline
// (Kafka partitions, offsets and rebalancing; dead-letter queues,
// backpressure and retries; embedding models, batching and chunking; vector
// search and pgvector; lag, metrics and capacity planning).
//
// Layout: corpus/<topic>/<name>.<ext>, with topics kafka, pipeline,
// embeddings, search and operations. Most files are Markdown (300 to 900
// words each, with headings, lists, tables and code blocks); a few are
// plain text (.txt) and HTML (.html, .htm, with scripts, styles, navigation
// and entities), and one is a PDF (operations/on-call-handbook.pdf, three
// pages with headings, a table and document properties, written by
// internal/genpdf with `go generate`), so that the loaders of package
// ingest are exercised.
//
// The corpus is embedded in the binary with go:embed and is read-only:
// FS returns a view of it, and WriteDir copies it to disk for tools that
// work on real directories, such as ingest.Walk. The package has no
// mutable state.
package sample
