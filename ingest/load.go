package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Media types of the documents Load produces.
const (
	MediaMarkdown = "text/markdown"
	MediaText     = "text/plain"
	MediaHTML     = "text/html"
)

// DefaultMaxBytes is the default Loader.MaxBytes: 32 MiB.
const DefaultMaxBytes int64 = 32 << 20

// sniffLen is how much of a file the binary check looks at.
const sniffLen = 8 << 10

// extensions maps a lower-case file extension to its media type.
var extensions = map[string]string{
	".md":       MediaMarkdown,
	".markdown": MediaMarkdown,
	".txt":      MediaText,
	".text":     MediaText,
	".html":     MediaHTML,
	".htm":      MediaHTML,
}

// supportedList is the list shown in ErrUnsupported messages.
const supportedList = ".md, .markdown, .txt, .text, .html, .htm"

// MediaTypeOf returns the media type Load uses for a file name, judged by
// its extension (case-insensitive), and false when Load does not read it.
func MediaTypeOf(name string) (string, bool) {
	mt, ok := extensions[strings.ToLower(filepath.Ext(name))]
	return mt, ok
}

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
}

// Document is a loaded file.
type Document struct {
	DocID     string // File.DocID
	Source    string // File.Path
	Title     string // first H1 (or <title>), else the file name without extension
	MediaType string // MediaMarkdown, MediaText or MediaHTML
	Blocks    []Block
}

// Loader reads files into Documents.
type Loader struct {
	// MaxBytes is the largest file Load reads; bigger files fail with
	// ErrTooLarge before any of their content is read. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
}

// DefaultLoader returns a Loader with the default settings.
func DefaultLoader() Loader { return Loader{MaxBytes: DefaultMaxBytes} }

// Validate reports whether the settings make sense.
func (l Loader) Validate() error {
	if l.MaxBytes < 0 {
		return fmt.Errorf("ingest: loader: max bytes must not be negative, got %d", l.MaxBytes)
	}
	return nil
}

func (l Loader) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// Load reads and parses one file. Its type is chosen by extension (see
// MediaTypeOf). The errors it returns name the document and wrap one of
// ErrUnsupported, ErrTooLarge, ErrEmpty, ErrBinary or ErrInvalidUTF8 when
// the file itself is at fault, or the underlying I/O error.
//
// Load never panics, whatever the file holds.
func (l Loader) Load(f File) (Document, error) {
	if f.DocID == "" {
		f.DocID = filepath.Base(f.Path)
	}
	fail := func(err error) (Document, error) {
		return Document{}, fmt.Errorf("ingest: %s: %w", f.DocID, err)
	}
	if _, ok := MediaTypeOf(f.Path); !ok {
		return fail(unsupported(f.Path))
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
	// The file may grow between Stat and reading: read one byte past the
	// limit to notice.
	buf := bytes.NewBuffer(make([]byte, 0, info.Size()+1))
	if _, err := io.Copy(buf, io.LimitReader(fh, limit+1)); err != nil {
		return fail(err)
	}
	return l.LoadBytes(f, buf.Bytes())
}

// LoadBytes is Load for content already in memory (from an fs.FS, an
// archive, a network upload): f.Path chooses the parser by its extension
// and names the source, and data is its content. It applies the same
// checks and returns the same errors as Load.
func (l Loader) LoadBytes(f File, data []byte) (Document, error) {
	if f.DocID == "" {
		f.DocID = filepath.Base(f.Path)
	}
	fail := func(err error) (Document, error) {
		return Document{}, fmt.Errorf("ingest: %s: %w", f.DocID, err)
	}
	mt, ok := MediaTypeOf(f.Path)
	if !ok {
		return fail(unsupported(f.Path))
	}
	if limit := l.maxBytes(); int64(len(data)) > limit {
		return fail(&TooLargeError{Size: int64(len(data)), Limit: limit})
	}
	blocks, title, err := parse(mt, data)
	if err != nil {
		return fail(err)
	}
	if title == "" {
		title = strings.TrimSuffix(filepath.Base(f.Path), filepath.Ext(f.Path))
	}
	return Document{
		DocID:     f.DocID,
		Source:    f.Path,
		Title:     title,
		MediaType: mt,
		Blocks:    blocks,
	}, nil
}

func unsupported(path string) error {
	ext := filepath.Ext(path)
	if ext == "" {
		return fmt.Errorf("%w: no file extension (supported: %s)", ErrUnsupported, supportedList)
	}
	return fmt.Errorf("%w %q (supported: %s)", ErrUnsupported, ext, supportedList)
}

// parse checks src and turns it into blocks. It is the part of Load that
// does not touch the file system, and it never panics: a panic in a parser
// becomes an error (it would be a bug, but one bad file must not stop an
// ingestion run).
func parse(mediaType string, src []byte) (blocks []Block, title string, err error) {
	if err := checkText(src); err != nil {
		return nil, "", err
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	defer func() {
		if r := recover(); r != nil {
			blocks, title, err = nil, "", fmt.Errorf("internal error parsing %s: %v", mediaType, r)
		}
	}()
	switch mediaType {
	case MediaMarkdown:
		blocks, title = parseMarkdown(src)
	case MediaHTML:
		blocks, title = parseHTML(src)
	default:
		blocks = parseText(src)
	}
	if len(blocks) == 0 {
		return nil, "", fmt.Errorf("%w: no text left after removing markup", ErrEmpty)
	}
	return blocks, title, nil
}

// checkText returns ErrEmpty, ErrBinary or an *InvalidUTF8Error when src is
// not usable text.
func checkText(src []byte) error {
	if len(src) == 0 {
		return fmt.Errorf("%w: 0 bytes", ErrEmpty)
	}
	if err := sniffBinary(src); err != nil {
		return err
	}
	if off := invalidUTF8Offset(src); off >= 0 {
		return &InvalidUTF8Error{Offset: int64(off)}
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")))) == 0 {
		return fmt.Errorf("%w: only whitespace (%d bytes)", ErrEmpty, len(src))
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

// invalidUTF8Offset returns the offset of the first invalid UTF-8 sequence
// in src, or -1.
func invalidUTF8Offset(src []byte) int {
	if utf8.Valid(src) {
		return -1
	}
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1 // unreachable: utf8.Valid said otherwise
}

// IsContentError reports whether err (from Load) means the file itself is
// unusable: ErrUnsupported, ErrTooLarge, ErrEmpty, ErrBinary or
// ErrInvalidUTF8. A caller usually reports such a file and goes on with the
// next, while other errors (permissions, I/O) may deserve to stop the run.
func IsContentError(err error) bool {
	for _, target := range []error{ErrUnsupported, ErrTooLarge, ErrEmpty, ErrBinary, ErrInvalidUTF8} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
