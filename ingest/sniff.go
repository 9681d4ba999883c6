package ingest

import (
	"archive/zip"
	"bytes"
	"net/http"
	"strings"
)

// SniffMediaType judges a document's type from its content, for files
// without an extension. It returns one of the Media* constants, or "" and
// a description of what the content looks like (for an error message)
// when it is not a type Load reads.
//
// net/http.DetectContentType (the WHATWG MIME sniffing algorithm) is
// asked first; on top of it: a PDF header anywhere in the first KiB (as
// PDF readers accept), a zip archive is a DOCX when it holds
// word/document.xml and an ODT when its mimetype entry says so, UTF-16
// text without a byte order mark, XHTML (an XML document whose root is
// html), and plain text that looks like Markdown (front matter, an ATX
// heading as its first line, a fenced code block or a setext heading).
func SniffMediaType(data []byte) (mediaType, description string) {
	head := data[:min(len(data), 1024)]
	if bytes.Contains(head, []byte("%PDF-")) {
		return MediaPDF, "PDF"
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return sniffZip(data)
	}
	if _, ok := utf16Order(data); ok {
		return MediaText, "UTF-16 text"
	}
	ct := http.DetectContentType(data)
	mt, _, _ := strings.Cut(ct, ";")
	switch mt {
	case "text/html":
		return MediaHTML, "HTML"
	case "text/xml":
		if bytes.Contains(bytes.ToLower(data[:min(len(data), sniffLen)]), []byte("<html")) {
			return MediaHTML, "XHTML"
		}
		return "", "XML (" + ct + ")"
	case "text/plain":
		if looksLikeMarkdown(data[:min(len(data), sniffLen)]) {
			return MediaMarkdown, "Markdown"
		}
		return MediaText, "plain text"
	}
	return "", ct
}

// sniffZip tells a DOCX or ODT from other zip archives by their entries.
func sniffZip(data []byte) (string, string) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		// Let the DOCX parser report what is wrong with the archive.
		return MediaDOCX, "a damaged zip archive"
	}
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml":
			return MediaDOCX, "DOCX"
		case "mimetype":
			if f.UncompressedSize64 < 128 {
				if b, err := readZipFile(f, 128); err == nil && strings.TrimSpace(string(b)) == MediaODT {
					return MediaODT, "ODT"
				}
			}
		}
	}
	return "", "a zip archive (neither DOCX nor ODT)"
}

// looksLikeMarkdown reports whether plain text has a Markdown sign that
// plain text rarely has.
func looksLikeMarkdown(head []byte) bool {
	s := string(head)
	if strings.HasPrefix(s, "#!") {
		return false // a script
	}
	if strings.HasPrefix(s, "---\n") || strings.HasPrefix(s, "---\r\n") {
		return true
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 1 {
		lines = lines[:len(lines)-1] // may be cut
	}
	first := true
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			continue
		}
		if first && atxHeading(l) {
			return true
		}
		first = false
		if strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~") {
			return true
		}
		if i > 0 && len(l) >= 3 && (strings.Trim(l, "=") == "" || strings.Trim(l, "-") == "") {
			if prev := strings.TrimSpace(lines[i-1]); prev != "" && !strings.HasPrefix(prev, "-") && len(l) >= len(prev)/2 {
				return true
			}
		}
	}
	return false
}

// atxHeading reports whether l is "# Title" to "###### Title".
func atxHeading(l string) bool {
	n := 0
	for n < len(l) && l[n] == '#' {
		n++
	}
	return n >= 1 && n <= 6 && n < len(l) && l[n] == ' ' && strings.TrimSpace(l[n:]) != ""
}
