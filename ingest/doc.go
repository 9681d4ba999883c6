// Package ingest turns files into ordered text chunks: it finds the files
// (Walk), reads and parses them into structured text (Loader.Load), and cuts
// that text into pieces sized for an embedding model (Chunker.Split).
//
// # Walking
//
// Walk visits every regular file under a root, depth first, each
// directory's entries in lexical order, so two runs over the same tree see
// the same files in the same order. It skips names starting with '.',
// follows symbolic links but not those that lead back up the tree, and
// yields files of every type: deciding what can be read is Load's job, so
// that unsupported files are reported rather than silently ignored.
// A document is identified by its DocID, the path relative to the root with
// '/' separators, which stays the same wherever the tree is mounted.
//
// # Loading
//
// The file type is chosen by extension: Markdown (.md, .markdown) is parsed
// with goldmark, HTML (.html, .htm) with golang.org/x/net/html, plain text
// (.txt, .text) is split into paragraphs at blank lines. Every loader
// produces the same thing, a Document: a title and a list of Blocks, each
// a heading, paragraph, list item, code block, table or quote, carrying its
// plain text and its heading path ("Install > Linux"). Markup is removed;
// HTML scripts, styles, navigation and the like are dropped; entities are
// decoded; Markdown front matter is dropped (its title: is a fallback
// title). Loader.LoadBytes does the same for content already in memory
// (an fs.FS such as the sample corpus, an upload).
//
// Before parsing, Load checks the file and fails with a wrapped sentinel
// error that callers can test with errors.Is: ErrUnsupported (extension),
// ErrTooLarge (over Loader.MaxBytes, judged from the file's size before it
// is read), ErrEmpty (no bytes, only whitespace, or no text once markup is
// removed), ErrBinary (a NUL byte or mostly control bytes in the first
// 8 KiB) and ErrInvalidUTF8 (with the byte offset of the first bad
// sequence, as an *InvalidUTF8Error). IsContentError groups them. Load never
// panics: parsers are fuzzed, and a panic in one would become an error.
//
// # Chunking
//
// Chunker.Split packs a document's blocks, in order, into chunks of at most
// MaxTokens tokens (CountTokens: a cheap estimate of a BPE tokenizer's
// count, additive over whitespace):
//
//   - Sections: the document's sections start at its top-level headings
//     (the shallowest heading level used twice or more, e.g. the H2s of a
//     document with one H1 title). A section's first heading always starts
//     a new chunk, so a chunk never mixes two top-level sections. Smaller
//     sub-sections are packed together while they fit.
//   - Packing: consecutive blocks of a section go into one chunk while the
//     total stays within MaxTokens. A heading is never left as the last
//     block of a chunk when the text under it goes to the next.
//   - Big blocks: a block is placed whole when it fits in the current
//     chunk, or in a fresh one after the overlap (at most
//     MaxTokens-OverlapTokens). Otherwise it is cut at sentence ends (code
//     and tables at line ends), a sentence still too big between words,
//     and a word too big (a long URL or base64 run) between runes, into
//     pieces of at most MaxTokens-OverlapTokens that are packed like
//     blocks: so the overlap always fits and no chunk is ever over
//     MaxTokens, not even for a single enormous word.
//   - Overlap: when a section continues into the next chunk, that chunk
//     starts with the last whole words of the previous one, up to
//     OverlapTokens tokens, so that a sentence cut at the boundary is
//     whole in at least one chunk. There is no overlap across sections,
//     nor when the next chunk starts with a sub-section's heading.
//
// Invariants: chunk indexes run from 0 without gaps; every chunk has at
// most MaxTokens tokens and Tokens == CountTokens(Text); every word of the
// document is in some chunk, in document order (a word over
// MaxTokens-OverlapTokens tokens is in pieces); Split is deterministic.
// Chunk text does not repeat the heading path: it is in Chunk.Heading, for
// the caller to add to the embedded text or to metadata as it sees fit.
// ContentHash gives a chunk's content identity (hex SHA-256).
//
// Split runs in time linear in the document's size (100 to 150 MB/s on one
// core for plain text; see BenchmarkSplit) and holds no more than the
// document and its chunks in memory.
//
// The package has no global mutable state; Loader and Chunker are plain
// configuration values, safe for concurrent use.
package ingest
