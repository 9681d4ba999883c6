package ingest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Media types of the documents Load produces.
const (
	MediaMarkdown = "text/markdown"
	MediaText     = "text/plain"
	MediaHTML     = "text/html"
	MediaRST      = "text/x-rst"
	MediaAsciiDoc = "text/asciidoc"
	MediaPDF      = "application/pdf"
	MediaDOCX     = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	MediaODT      = "application/vnd.oasis.opendocument.text"
)

// format is one entry of the loader's type table.
type format struct {
	mediaType string
	exts      []string // lower-case, with the dot
	// binary formats are parsed from their bytes as they are; the others
	// are text, decoded to UTF-8 and checked (decodeText) first.
	binary bool
	parse  func(src []byte, lim limits) (parsed, error)
	// noText ends the ErrEmpty message of a binary document without text.
	noText string
}

// formats is the loader's type table, in the order of the supported list.
var formats = []format{
	{mediaType: MediaMarkdown, exts: []string{".md", ".markdown"}, parse: textParser(parseMarkdown)},
	{mediaType: MediaText, exts: []string{".txt", ".text"}, parse: textParser(parsePlain)},
	{mediaType: MediaHTML, exts: []string{".html", ".htm", ".xhtml"}, parse: parseHTMLDoc},
	{mediaType: MediaRST, exts: []string{".rst", ".rest"}, parse: textParser(parseRST)},
	{mediaType: MediaAsciiDoc, exts: []string{".adoc", ".asciidoc"}, parse: textParser(parseAsciiDoc)},
	{mediaType: MediaPDF, exts: []string{".pdf"}, binary: true, parse: parsePDF,
		noText: " (a scanned PDF holds images of pages: run OCR on it first)"},
	{mediaType: MediaDOCX, exts: []string{".docx"}, binary: true, parse: parseDOCX},
	{mediaType: MediaODT, exts: []string{".odt"}, binary: true, parse: parseODT},
}

func textParser(fn func(src []byte) parsed) func([]byte, limits) (parsed, error) {
	return func(src []byte, _ limits) (parsed, error) { return fn(src), nil }
}

func parsePlain(src []byte) parsed { return parsed{blocks: parseText(src)} }

func parseHTMLDoc(src []byte, _ limits) (parsed, error) {
	blocks, title, err := parseHTML(src)
	return parsed{blocks: blocks, title: title}, err
}

// supportedList is the list shown in ErrUnsupported messages.
var supportedList = func() string {
	var exts []string
	for _, f := range formats {
		exts = append(exts, f.exts...)
	}
	return strings.Join(exts, ", ") + ", or no extension (type judged by content)"
}()

func formatByMediaType(mt string) (format, bool) {
	for _, f := range formats {
		if f.mediaType == mt {
			return f, true
		}
	}
	return format{}, false
}

func formatByExt(name string) (format, bool) {
	ext := strings.ToLower(filepath.Ext(name))
	for _, f := range formats {
		for _, e := range f.exts {
			if e == ext {
				return f, true
			}
		}
	}
	return format{}, false
}

// MediaTypeOf returns the media type Load uses for a file name, judged by
// its extension (case-insensitive), and false when the extension is not
// one Load reads. A name without an extension gives false too, and so does
// a documentation file's conventional name (README.Debian): Load then
// judges the type by the content (see SniffMediaType).
func MediaTypeOf(name string) (string, bool) {
	f, ok := formatByExt(name)
	return f.mediaType, ok
}

// checkExt fails with ErrUnsupported when path has an extension that is
// not in the type table; a name without one, or a documentation file's
// conventional name with any extension (README.Debian, NEWS.old), is
// judged by its content.
func checkExt(path string) error {
	if _, ok := formatByExt(path); ok {
		return nil
	}
	base := filepath.Base(path)
	if ext := filepath.Ext(path); ext != "" && ext != base && !docName(base) {
		return fmt.Errorf("%w %q (supported: %s)", ErrUnsupported, ext, supportedList)
	}
	return nil
}

// docNames are the names documentation files conventionally have, with or
// without an extension.
var docNames = map[string]bool{
	"README": true, "NEWS": true, "CHANGES": true, "CHANGELOG": true, "INSTALL": true,
	"TODO": true, "AUTHORS": true, "COPYING": true, "LICENSE": true, "HACKING": true,
	"CONTRIBUTING": true, "THANKS": true, "BUGS": true, "FAQ": true, "NOTICE": true,
}

// docName reports whether a file's name before its first dot is one of
// docNames (in any case).
func docName(base string) bool {
	name, _, _ := strings.Cut(base, ".")
	return docNames[strings.ToUpper(name)]
}

// formatOf chooses the parser for a file: by extension, or by content
// when the name has none.
func (l Loader) formatOf(path string, data []byte) (format, error) {
	if f, ok := formatByExt(path); ok {
		return f, nil
	}
	if err := checkExt(path); err != nil {
		return format{}, err
	}
	if len(data) == 0 {
		return format{}, fmt.Errorf("%w: 0 bytes", ErrEmpty)
	}
	mt, what := SniffMediaType(data)
	f, ok := formatByMediaType(mt)
	if !ok {
		return format{}, fmt.Errorf("%w: no file extension, and the content looks like %s (supported: %s)", ErrUnsupported, what, supportedList)
	}
	return f, nil
}
