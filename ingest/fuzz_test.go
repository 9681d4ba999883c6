package ingest

import (
	"bytes"
	"compress/gzip"
	"testing"
	"unicode/utf8"
)

// checkLoaded fails the fuzz run when Load's result breaks its contract:
// an error must be a content error; a document must have well-formed
// blocks, metadata and chunks.
func checkLoaded(t *testing.T, name string, doc Document, err error) {
	t.Helper()
	if err != nil {
		if !IsContentError(err) {
			t.Fatalf("%s: unexpected error class: %v", name, err)
		}
		return
	}
	if len(doc.Blocks) == 0 {
		t.Fatalf("%s: no blocks and no error", name)
	}
	for _, b := range doc.Blocks {
		if b.Text == "" || !utf8.ValidString(b.Text) || !utf8.ValidString(b.Heading) {
			t.Fatalf("%s: bad block %q", name, b.Text)
		}
	}
	if len(doc.Metadata) > maxMetaKeys || !utf8.ValidString(doc.Title) {
		t.Fatalf("%s: %d metadata keys, title %q", name, len(doc.Metadata), doc.Title)
	}
	for k, v := range doc.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > maxMetaValueLen || k == "" || v == "" {
			t.Fatalf("%s: bad metadata %q=%q", name, k, v)
		}
	}
	c := Chunker{MaxTokens: 16, OverlapTokens: 4}
	chunks := c.Split(doc)
	for i, ch := range chunks {
		if ch.Index != i || ch.Tokens > c.MaxTokens || ch.Tokens != CountTokens(ch.Text) || ch.PageEnd < ch.Page {
			t.Fatalf("%s: bad chunk %d: %+v", name, i, ch)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to every text loader and to content
// sniffing. Load must never panic; when it succeeds, its blocks and their
// chunks must be well formed.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"",
		"# Title\n\nText with *emphasis* and `code`.\n\n- a\n- b\n  1. c\n",
		"> > > quote\n\n```\ncode\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
		"<html><head><title>t</title><script>x</script></head><body><h1>H</h1><p>p &amp; q</p><ul><li>i</li></ul><table><tr><td>c</td></tr></table></body></html>",
		"<h7>bad</h7><p><p><li>unclosed<pre>pre",
		"plain\r\ntext\n\n\nparagraphs",
		"\xef\xbb\xbf\x00binary",
		"caf\xe9",
		"[link](<>)![img](x \"t\")<div>\n*a **b* c**\n\\&amp;&#0;&#x110000;",
		"---\ntitle: front\ntags: [a, b]\nnested: {a: {b: c}}\nanchor: &x [1, *x]\n---\n# x\n",
		"Title\n=====\n\nSection\n-------\n\ntext\n",
		"= Doc\n\n== Part\ntext\n",
		"\xff\xfeh\x00i\x00\n\x00",
		`<meta charset="iso-8859-1"><p>caf` + "\xe9</p>",
		`<?xml version="1.0" encoding="shift_jis"?><html><p>` + "\x93\xfa</p></html>",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("# Gzipped\n\ntext\n"))
	zw.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.md", "f.html", "f.txt", "f.rst", "f.adoc", "README", "f.txt.gz"} {
			doc, err := DefaultLoader().LoadBytes(File{Path: name}, data)
			checkLoaded(t, name, doc, err)
		}
		if doc, err := (Loader{Encoding: "windows-1252"}).LoadBytes(File{Path: "f.txt"}, data); err == nil {
			checkLoaded(t, "f.txt (windows-1252)", doc, err)
		}
		// The parsers themselves, without the recover in parse, so that a
		// panic is a test failure rather than an error value.
		if utf8.Valid(data) {
			parseMarkdown(data)
			_, _, _ = parseHTML(data)
			flatHTML(data)
			parseText(data)
			parseRST(data)
			parseAsciiDoc(data)
		}
	})
}

// FuzzPDF mutates real PDFs (and a few broken ones). The PDF reader
// reports malformed input by panicking, which parsePDF turns into
// ErrCorrupt: the test fails on anything else, on a panic that escapes,
// and on a hang (the fuzzer's per-input timeout).
func FuzzPDF(f *testing.F) {
	good := testPDF(f, pdfOptions{})
	f.Add(good)
	f.Add(testPDF(f, pdfOptions{ownerPassword: "o"}))
	f.Add(testPDF(f, pdfOptions{userPassword: "u", ownerPassword: "o"}))
	f.Add(testPDF(f, pdfOptions{noText: true}))
	f.Add(good[:len(good)/2])
	f.Add([]byte("%PDF-1.4\ntrailer<</Root<</Pages<</Kids[<</Type/Page/Contents 1 0 R>>]>>>>>>\nstartxref\n0\n%%EOF"))
	f.Add([]byte("%PDF-1.7\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DefaultLoader().LoadBytes(File{Path: "f.pdf"}, data)
		checkLoaded(t, "f.pdf", doc, err)
		for _, b := range doc.Blocks {
			if b.Page < 1 {
				t.Fatalf("block without a page: %+v", b)
			}
		}
	})
}

// FuzzOffice mutates DOCX and ODT archives (and their XML, stored
// uncompressed so that the mutations reach it).
func FuzzOffice(f *testing.F) {
	f.Add([]byte(testDOCX(f)), false)
	f.Add([]byte(storedZip(f, map[string]string{
		"word/document.xml": `<w:document ` + wordNS + `><w:body>` + wpara("Heading1", "H") + `<w:tbl><w:tr><w:tc>` + wpara("", "c") + `</w:tc></w:tr></w:tbl></w:body></w:document>`,
		"word/styles.xml":   `<w:styles ` + wordNS + `><w:style w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`,
	})), false)
	f.Add([]byte(storedZip(f, map[string]string{
		"mimetype":    MediaODT,
		"content.xml": `<office:text><text:h text:outline-level="2">H</text:h><text:list><text:list-item><text:p>i<text:s text:c="3"/></text:p></text:list-item></text:list><table:table><table:table-row><table:table-cell><text:p>c</text:p></table:table-cell></table:table-row></table:table></office:text>`,
		"meta.xml":    `<office:meta><dc:title>T</dc:title></office:meta>`,
	})), true)
	f.Add([]byte("PK\x03\x04"), false)
	f.Fuzz(func(t *testing.T, data []byte, odt bool) {
		name := "f.docx"
		if odt {
			name = "f.odt"
		}
		doc, err := DefaultLoader().LoadBytes(File{Path: name}, data)
		checkLoaded(t, name, doc, err)
	})
}

// FuzzDecodeText checks the charset rules on arbitrary bytes: the result
// is valid UTF-8 or an error of the documented kinds.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"", "plain", "caf\xe9", "\xff\xfea\x00", "\xfe\xff\x00a", "\xef\xbb\xbfx", "d\xc3\xa9j\xc3 \xff", "a\x00b\x00c\x00d\x00"} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "utf-16be")
	}
	f.Add([]byte("<meta charset=koi8-r>\xf0\xd2\xc9"), "")
	f.Fuzz(func(t *testing.T, data []byte, enc string) {
		l := Loader{Encoding: enc}
		if l.Validate() != nil {
			return
		}
		for _, ft := range []string{MediaText, MediaHTML} {
			fm, _ := formatByMediaType(ft)
			out, err := l.decodeText(fm, data)
			if err != nil {
				if !IsContentError(err) {
					t.Fatalf("%v is not a content error", err)
				}
				continue
			}
			if !utf8.Valid(out) || len(out) == 0 {
				t.Fatalf("decoded %q", out)
			}
		}
	})
}
