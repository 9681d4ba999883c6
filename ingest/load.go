package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxBytes is the default Loader.MaxBytes: 32 MiB.
const DefaultMaxBytes int64 = 32 << 20

// DefaultMaxExpandedBytes is the default Loader.MaxExpandedBytes: 256 MiB.
const DefaultMaxExpandedBytes int64 = 256 << 20

// sniffLen is how much of a file the binary check looks at.
const sniffLen = 8 << 10

// Kind is the kind of a Block.
type Kind string

// Block kinds.
const (
	KindHeading   Kind = "heading"
	KindParagraph Kind = "paragraph"
	KindListItem  Kind = "list_item"
	KindCode      Kind = "code"
	KindTable     Kind = "table"
	KindQuote     Kind = "quote"
)

// HeadingSep separates the titles in a heading path.
const HeadingSep = " > "

// Block is one unit of a document's text, in document order.
type Block struct {
	Kind Kind
	// Text is the block's plain text: markup removed, entities decoded,
	// never empty. A list item starts with its marker ("- " or "3. ",
	// indented two spaces per nesting level); a table has one line per
	// row with cells separated by " | "; code keeps its line breaks.
	Text string
	// Heading is the path of the headings the block is under, joined with
	// HeadingSep, e.g. "Install > Linux". A heading block's path ends with
	// its own title. Empty before the first heading and in plain text.
	Heading string
	// Level is a heading's level, 1 to 6; 0 for other kinds.
	Level int
	// Page is the page the block is on, from 1, in paginated formats
	// (PDF); 0 elsewhere.
	Page int
}

// Document is a loaded file.
type Document struct {
	DocID     string // File.DocID
	Source    string // File.Path
	Title     string // document property or front matter title, first H1 (or <title>), else the file name without extension
	MediaType string // one of the Media* constants
	Blocks    []Block
	// Metadata holds document-level properties: Markdown front matter
	// (flattened, see frontMatter), PDF document information and DOCX or
	// ODT document properties (title, author, subject, keywords, created,
	// modified, ...), and "pages" for PDF. Keys and values are valid UTF-8
	// and bounded in number and length. Nil when there are none.
	Metadata map[string]string
}

// Loader reads files into Documents.
type Loader struct {
	// MaxBytes is the largest file Load reads; bigger files fail with
	// ErrTooLarge before any of their content is read. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
	// MaxExpandedBytes bounds what a compressed document may expand to:
	// the parts of a DOCX or ODT archive together, and the page content
	// streams of a PDF together. Beyond it, or at a compression ratio no
	// real document has, Load fails with ErrExpansion. Zero means
	// DefaultMaxExpandedBytes.
	MaxExpandedBytes int64
	// Encoding, when set, names the character encoding of text documents
	// (plain text, Markdown, reStructuredText, AsciiDoc and HTML), e.g.
	// "windows-1252", "iso-8859-1", "utf-16le", "shift_jis" (WHATWG
	// names, see golang.org/x/text/encoding/htmlindex). It overrides the
	// detection (byte order marks, HTML charset declarations, the UTF-8
	// and Latin-1 checks). Empty means detect.
	Encoding string
}

// DefaultLoader returns a Loader with the default settings.
func DefaultLoader() Loader {
	return Loader{MaxBytes: DefaultMaxBytes, MaxExpandedBytes: DefaultMaxExpandedBytes}
}

// Validate reports whether the settings make sense.
func (l Loader) Validate() error {
	if l.MaxBytes < 0 {
		return fmt.Errorf("ingest: loader: max bytes must not be negative, got %d", l.MaxBytes)
	}
	if l.MaxExpandedBytes < 0 {
		return fmt.Errorf("ingest: loader: max expanded bytes must not be negative, got %d", l.MaxExpandedBytes)
	}
	if l.Encoding != "" {
		if _, _, err := lookupEncoding(l.Encoding); err != nil {
			return fmt.Errorf("ingest: loader: %w", err)
		}
	}
	return nil
}

func (l Loader) maxExpanded() int64 {
	if l.MaxExpandedBytes <= 0 {
		return DefaultMaxExpandedBytes
	}
	return l.MaxExpandedBytes
}

func (l Loader) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// Load reads and parses one file. Its type is chosen by extension, or by
// content for a file without one (see MediaTypeOf and sniffMediaType). The
// errors it returns name the document and wrap one of the sentinel errors
// (see IsContentError) when the file itself is at fault, ErrChanged when
// the file changed while it was read, or the underlying I/O error.
//
// Load never panics, whatever the file holds.
func (l Loader) Load(f File) (Document, error) {
	data, err := l.Read(f)
	if err != nil {
		return Document{}, err
	}
	return l.LoadBytes(f, data)
}

// Read reads one file's bytes as Load does (a supported type, a regular
// file within MaxBytes, not changed while read), with the same errors;
// LoadBytes then parses them. A caller that needs the bytes too (their
// hash) reads the file once this way.
func (l Loader) Read(f File) ([]byte, error) {
	if f.DocID == "" {
		f.DocID = filepath.Base(f.Path)
	}
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("ingest: %s: %w", f.DocID, err)
	}
	if err := checkExt(parserName(f.Path)); err != nil {
		return fail(err)
	}
	// Stat before opening: opening a named pipe would block.
	if info, err := os.Stat(f.Path); err != nil {
		return fail(err)
	} else if !info.Mode().IsRegular() {
		return fail(fmt.Errorf("%w: not a regular file", ErrUnsupported))
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return fail(err)
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return fail(err)
	}
	limit := l.maxBytes()
	if info.Size() > limit {
		return fail(&TooLargeError{Size: info.Size(), Limit: limit})
	}
	data, err := readStable(fh, info, fh, limit)
	if err != nil {
		return fail(err)
	}
	return data, nil
}

// readStable reads all of r (the content of fh, which Stat described as
// before) up to limit+1 bytes, and fails with ErrChanged when the file's
// size or modification time afterwards differs from before, or the bytes
// read differ from the size: a file being written to while it is read
// would otherwise give a document that never existed. (A rewrite that
// keeps the size within the file system's time resolution goes
// unnoticed.)
func readStable(fh *os.File, before os.FileInfo, r io.Reader, limit int64) ([]byte, error) {
	// The file may grow between Stat and reading: read one byte past the
	// limit to notice.
	buf := bytes.NewBuffer(make([]byte, 0, before.Size()+1))
	if _, err := io.Copy(buf, io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	after, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	n := int64(buf.Len())
	switch {
	case after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()):
		return nil, fmt.Errorf("%w: size %d → %d bytes, modified %s → %s; load it again once it is written",
			ErrChanged, before.Size(), after.Size(),
			before.ModTime().UTC().Format(time.RFC3339Nano), after.ModTime().UTC().Format(time.RFC3339Nano))
	case n != before.Size():
		if n > limit {
			return nil, &TooLargeError{Size: n, Limit: limit}
		}
		return nil, fmt.Errorf("%w: read %d bytes of a %d-byte file; load it again once it is written", ErrChanged, n, before.Size())
	}
	return buf.Bytes(), nil
}

// LoadBytes is Load for content already in memory (from an fs.FS, an
// archive, a network upload): f.Path chooses the parser by its extension
// (by content when it has none) and names the source, and data is its
// content. It applies the same checks and returns the same errors as Load.
func (l Loader) LoadBytes(f File, data []byte) (Document, error) {
	if f.DocID == "" {
		f.DocID = filepath.Base(f.Path)
	}
	fail := func(err error) (Document, error) {
		return Document{}, fmt.Errorf("ingest: %s: %w", f.DocID, err)
	}
	if limit := l.maxBytes(); int64(len(data)) > limit {
		return fail(&TooLargeError{Size: int64(len(data)), Limit: limit})
	}
	name := parserName(f.Path)
	if name != f.Path {
		var err error
		if data, err = gunzip(data, l.maxBytes()); err != nil {
			return fail(err)
		}
	}
	ft, err := l.formatOf(name, data)
	if err != nil {
		return fail(err)
	}
	p, err := l.parse(ft, data)
	if err != nil {
		return fail(err)
	}
	title := p.title
	if title == "" {
		title = p.meta["title"]
	}
	if title == "" {
		title = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	return Document{
		DocID:     f.DocID,
		Source:    f.Path,
		Title:     title,
		MediaType: ft.mediaType,
		Blocks:    p.blocks,
		Metadata:  p.meta,
	}, nil
}

// parsed is what a parser returns.
type parsed struct {
	blocks []Block
	title  string // "" when the document has none of its own
	meta   map[string]string
}

// parse checks src and turns it into blocks. It is the part of Load that
// does not touch the file system, and it never panics: a panic in a parser
// becomes an error (it would be a bug, but one bad file must not stop an
// ingestion run).
func (l Loader) parse(ft format, src []byte) (p parsed, err error) {
	if len(src) == 0 {
		return parsed{}, fmt.Errorf("%w: 0 bytes", ErrEmpty)
	}
	if !ft.binary {
		if src, err = l.decodeText(ft, src); err != nil {
			return parsed{}, err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = parsed{}, fmt.Errorf("%w: internal error parsing %s: %v", ErrCorrupt, ft.mediaType, r)
		}
	}()
	p, err = ft.parse(src, l.limits())
	if err != nil {
		return parsed{}, err
	}
	if len(p.blocks) == 0 {
		if ft.binary {
			return parsed{}, fmt.Errorf("%w: no text in the document%s", ErrEmpty, ft.noText)
		}
		return parsed{}, fmt.Errorf("%w: no text left after removing markup", ErrEmpty)
	}
	return p, nil
}

// limits bound what a parser of binary documents may expand.
type limits struct {
	expanded int64 // total decompressed bytes
	pdfPage  int64 // content of one PDF page, beyond which it is skipped
}

func (l Loader) limits() limits {
	return limits{expanded: l.maxExpanded(), pdfPage: maxPDFPageContent}
}

// checkWhitespace returns ErrEmpty when the text src (of a file of size
// bytes) holds only whitespace.
func checkWhitespace(src []byte, size int) error {
	if len(bytes.TrimSpace(src)) == 0 {
		return fmt.Errorf("%w: only whitespace (%d bytes)", ErrEmpty, size)
	}
	return nil
}

// sniffBinary looks at the first 8 KiB: a NUL byte, more than 10% control
// bytes (other than tab, newline, carriage return, form feed and escape),
// or more than 30% bytes that are control bytes or not part of valid
// UTF-8, mean binary data.
func sniffBinary(src []byte) error {
	head := src[:min(len(src), sniffLen)]
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return fmt.Errorf("%w: NUL byte at offset %d", ErrBinary, i)
	}
	control, invalid := 0, 0
	for i := 0; i < len(head); {
		b := head[i]
		if b < utf8.RuneSelf {
			if (b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != 0x1b) || b == 0x7f {
				control++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 {
			// A sequence cut by the 8 KiB boundary is not evidence.
			if len(head) < len(src) && len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:]) {
				break
			}
			invalid++
		}
		i += size
	}
	if n := len(head); control*10 > n || (control+invalid)*10 > n*3 {
		return fmt.Errorf("%w: %d of the first %d bytes are control bytes or invalid UTF-8", ErrBinary, control+invalid, n)
	}
	return nil
}

// IsContentError reports whether err (from Load) means the file itself is
// unusable: ErrUnsupported, ErrTooLarge, ErrEmpty, ErrBinary,
// ErrInvalidUTF8, ErrCorrupt, ErrEncrypted or ErrExpansion. A caller
// usually reports such a file and goes on with the next, while other
// errors (permissions, I/O, ErrChanged) may deserve a retry or to stop the
// run.
func IsContentError(err error) bool {
	for _, target := range []error{ErrUnsupported, ErrTooLarge, ErrEmpty, ErrBinary, ErrInvalidUTF8, ErrCorrupt, ErrEncrypted, ErrExpansion} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
