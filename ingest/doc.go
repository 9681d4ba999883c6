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
// Load picks a parser from a type table (format.go) by extension, or, for
// a file without one or with a documentation file's conventional name
// (README.Debian, NEWS.old), by its content (SniffMediaType: net/http's
// DetectContentType plus checks of our own for PDF, DOCX, ODT, XHTML,
// UTF-16 and Markdown). A gzip compressed file ("manual.html.gz",
// "changelog.Debian.gz", as Debian ships documentation) is decompressed,
// within Loader.MaxBytes, and read by the name without ".gz". The table says which types are binary: those are
// handed to their parser as bytes, the others are first decoded to UTF-8
// and checked as text. Every parser produces the same thing, a Document: a
// title, document-level Metadata and a list of Blocks, each a heading,
// paragraph, list item, code block, table or quote, carrying its plain
// text, its heading path ("Install > Linux") and, in a PDF, its page.
// Loader.LoadBytes does the same for content already in memory (an fs.FS
// such as the sample corpus, an upload).
//
// Formats, and the library each uses (a well-kept one where it exists):
//
//   - Markdown (.md, .markdown): github.com/yuin/goldmark, CommonMark with
//     GitHub tables. YAML front matter is parsed with gopkg.in/yaml.v3 and
//     flattened into the metadata ("author.name", lists joined with ", ").
//   - HTML (.html, .htm, .xhtml): golang.org/x/net/html, which repairs bad
//     markup as browsers do; scripts, styles, navigation and the like are
//     dropped. Its parser refuses nesting past 512 elements: such a
//     document is read by the tokenizer alone, flat, in linear time.
//   - Plain text (.txt, .text), reStructuredText (.rst) and AsciiDoc
//     (.adoc): paragraphs at blank lines; in .rst and .adoc the section
//     titles become headings, the rest of the markup stays as it is.
//   - PDF (.pdf): github.com/ledongthuc/pdf, a maintained fork of
//     rsc.io/pdf in pure Go, reads the file: cross-reference tables and
//     streams, object nesting within bounds, fonts' encodings and ToUnicode
//     maps, the standard security handler. rsc.io/pdf itself is
//     unmaintained; github.com/pdfcpu/pdfcpu is the best Go library for
//     validating and changing PDFs, but it extracts content streams, not
//     text. The text operators are interpreted by our own code
//     (pdfcontent.go), because the reader's Page.Content resolves a font's
//     entries again for every glyph (in PDFs with compressed object streams,
//     a decompression each time: 50 times slower on real manuals) and does
//     not enter form XObjects. The layout is ours too (pdf.go): glyphs
//     grouped into lines top to bottom, left to right (on a two-column
//     page, found by the gutter between the columns, the left column
//     first; more columns are read across, line by line); lines into
//     paragraphs by their spacing; lines in a larger font into headings
//     (the largest level 1); lines split by wide gaps into table rows
//     ("a | b"). Running headers and footers (the same first or last line
//     on many pages, page numbers) are left out, ligatures spelled out
//     ("ﬁ" → "fi") and dot leaders shortened. Each block knows its page.
//     The document information dictionary (title, author, subject,
//     keywords, creator, producer, dates as RFC 3339) and "pages" go into
//     the metadata. A page with over 8 MiB of content (a drawing) is
//     skipped and listed as "pages_skipped". Not read: annotations, and
//     images (a scanned PDF has no text: ErrEmpty says to run OCR).
//   - DOCX (.docx) and ODT (.odt): archive/zip and encoding/xml from the
//     standard library; no well-kept Go DOCX reader exists, and the formats
//     are zip archives of XML whose body takes a few hundred lines to walk.
//     Paragraphs, headings (by style name "heading N"/"Title" or outline
//     level, through style inheritance), list items, tables (one row per
//     line) and text boxes are read; deleted revisions, field codes,
//     comments and drawing fallbacks are not. docProps/core.xml (DOCX) and
//     meta.xml (ODT) give the metadata.
//
// Text encodings (charset.go, golang.org/x/text): Loader.Encoding (the
// --encoding flag) when given; else a byte order mark (UTF-8, UTF-16);
// for HTML a declared charset (meta charset, http-equiv, XML declaration;
// golang.org/x/net/html/charset); UTF-16 without a BOM by its NUL bytes;
// else UTF-8. Text that is not valid UTF-8 has its bad bytes replaced with
// U+FFFD when they are at most 1% of the file; it is read as Windows-1252
// (a superset of Latin-1) when it has no multi-byte UTF-8 sequence and
// reads as Western European text; otherwise it fails with ErrInvalidUTF8.
//
// Before parsing, Load checks the file and fails with a wrapped sentinel
// error that callers can test with errors.Is: ErrUnsupported (extension,
// or unknown content without one), ErrTooLarge (over Loader.MaxBytes,
// judged from the file's size before it is read), ErrEmpty (no bytes, only
// whitespace, or no text once markup is removed), ErrBinary (a NUL byte or
// mostly control bytes in the first 8 KiB of a text type) and
// ErrInvalidUTF8 (with the byte offset of the first bad sequence, as an
// *InvalidUTF8Error). Binary documents add ErrCorrupt (not a PDF, a PDF
// cut short or with a damaged cross-reference table or page, a DOCX that
// is not a zip archive or whose XML is broken), ErrEncrypted (a PDF that
// needs a password) and ErrExpansion (a zip bomb: archive entries that
// declare more than Loader.MaxExpandedBytes together, or expand over 200
// times; PDF page content past the same bound). IsContentError groups
// them. ErrChanged reports a file whose size or modification time changed
// while Load read it; it is no content error (loading it again may
// succeed). Load never panics: parsers are fuzzed (FuzzLoad, FuzzPDF,
// FuzzOffice, FuzzDecodeText), and a panic in one becomes an ErrCorrupt.
//
// Metadata is bounded (64 keys, 1 KiB a value, valid UTF-8) because it is
// copied to every chunk: ChunkMetadata gives a chunk's metadata, the
// document's plus "page" (and "page_end" when the chunk runs over a page
// break) for PDF.
//
// Parse throughput on one core (BenchmarkParse, see docs/benchmarks.md):
// plain text about 1 GB/s (Latin-1 200 MB/s, UTF-16 700 MB/s), Markdown
// and HTML 90 MB/s, DOCX 10 MB/s of archive, PDF about 1,500 pages a
// second.
//
// # Chunking
//
// Chunker.Split packs a document's blocks, in order, into chunks of at most
// MaxTokens tokens (CountTokens: a cheap estimate of a BPE tokenizer's
// count, additive over whitespace; or, with Chunker.Tokenizer, the
// embedding model's own tokenizer: LoadTokenizer reads a Hugging Face
// tokenizer.json with github.com/sugarme/tokenizer, a pure-Go port of the
// tokenizers library, since the Rust library's Go bindings need cgo and a
// Rust toolchain. It is much slower, well under 1 MB/s (0.2 MB/s with the
// small test vocabulary, BenchmarkSplitTokenizer); see Split for how its
// counts are kept exact):
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
// most MaxTokens tokens and Tokens == CountTokens(Text) (the Tokenizer's
// count, special tokens included, when set); every word of the
// document is in some chunk, in document order (a word over
// MaxTokens-OverlapTokens tokens is in pieces); Split is deterministic.
// Chunk text does not repeat the heading path: it is in Chunk.Heading, for
// the caller to add to the embedded text or to metadata as it sees fit.
// Chunk.Page and Chunk.PageEnd are the pages of a chunk's blocks.
// ContentHash gives a chunk's content identity (hex SHA-256).
//
// Split runs in time linear in the document's size (100 to 150 MB/s on one
// core for plain text; see BenchmarkSplit) and holds no more than the
// document and its chunks in memory.
//
// The package has no global mutable state; Loader and Chunker are plain
// configuration values, safe for concurrent use.
package ingest
