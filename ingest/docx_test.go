package ingest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"`

func wpara(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

// testDOCX returns a DOCX made with archive/zip: headings through styles
// (one with a localised style ID), runs, tabs and breaks, list items, a
// table with a nested table, deleted text, a field code, a drawing's
// fallback copy, and document properties.
func testDOCX(t testing.TB) string {
	body := wpara("Title", "Release Notes") +
		`<w:p><w:r><w:t>Intro </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>bold</w:t></w:r><w:r><w:tab/><w:t>tabbed</w:t><w:br/><w:t>next line</w:t></w:r>` +
		`<w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del>` +
		`<w:r><w:instrText> PAGE \* MERGEFORMAT </w:instrText></w:r></w:p>` +
		wpara("berschrift1", "Upgrade") +
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>stop the workers</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>drain first</w:t></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + wpara("", "Setting") + `</w:tc><w:tc>` + wpara("", "Default") + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + wpara("", "max.poll") + `</w:tc><w:tc>` + wpara("", "500") + wpara("", "records") + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + wpara("", "nested") + `</w:tc><w:tc><w:tbl><w:tr><w:tc>` + wpara("", "a") + `</w:tc><w:tc>` + wpara("", "b") + `</w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>` +
		wpara("Heading2", "Known issues") +
		`<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>` + wpara("", "box text") +
		`</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict>` + wpara("", "box text") + `</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:p><w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:r><w:t>Outline Heading</w:t></w:r></w:p>` +
		wpara("", "Last &amp; final paragraph.")
	return zipOf(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"_rels/.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + wordNS + `><w:body>` + body + `<w:sectPr/></w:body></w:document>`,
		"word/styles.xml": `<?xml version="1.0" encoding="UTF-8"?><w:styles ` + wordNS + `>` +
			`<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>` +
			`<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>` +
			`<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style></w:styles>`,
		"docProps/core.xml": `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">` +
			`<dc:title>Release Notes 2.0</dc:title><dc:creator>Grace Hopper</dc:creator><cp:keywords>release, upgrade</cp:keywords>` +
			`<dcterms:created>2024-05-01T09:00:00Z</dcterms:created></cp:coreProperties>`,
	})
}

func TestLoadDOCX(t *testing.T) {
	doc, err := DefaultLoader().LoadBytes(File{Path: "notes.docx"}, []byte(testDOCX(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: KindHeading, Text: "Release Notes", Heading: "Release Notes", Level: 1},
		{Kind: KindParagraph, Text: "Intro bold tabbed\nnext line", Heading: "Release Notes"},
		{Kind: KindHeading, Text: "Upgrade", Heading: "Upgrade", Level: 1},
		{Kind: KindListItem, Text: "- stop the workers", Heading: "Upgrade"},
		{Kind: KindListItem, Text: "  - drain first", Heading: "Upgrade"},
		{Kind: KindTable, Text: "Setting | Default\nmax.poll | 500 records\nnested | a | b", Heading: "Upgrade"},
		{Kind: KindHeading, Text: "Known issues", Heading: "Upgrade > Known issues", Level: 2},
		{Kind: KindParagraph, Text: "box text", Heading: "Upgrade > Known issues"},
		{Kind: KindHeading, Text: "Outline Heading", Heading: "Outline Heading", Level: 1},
		{Kind: KindParagraph, Text: "Last & final paragraph.", Heading: "Outline Heading"},
	}
	if !equalBlocks(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
	wantMeta := `author="Grace Hopper" created="2024-05-01T09:00:00Z" keywords="release, upgrade" title="Release Notes 2.0"`
	if metaString(doc.Metadata) != wantMeta {
		t.Errorf("metadata %s", metaString(doc.Metadata))
	}
	if doc.Title != "Release Notes" || doc.MediaType != MediaDOCX {
		t.Errorf("title %q, media type %q", doc.Title, doc.MediaType)
	}
	if doc, err := loadString(t, DefaultLoader(), "notes", testDOCX(t)); err != nil || doc.MediaType != MediaDOCX {
		t.Errorf("extensionless DOCX: %v %q", err, doc.MediaType)
	}
}

func TestLoadODT(t *testing.T) {
	content := `<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ` +
		`xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">` +
		`<office:automatic-styles><style>hidden</style></office:automatic-styles><office:body><office:text>` +
		`<text:h text:outline-level="1">Field Guide</text:h><text:p>One<text:s text:c="2"/>two<text:tab/>three<text:line-break/>four</text:p>` +
		`<office:annotation><text:p>a comment</text:p></office:annotation>` +
		`<text:h text:outline-level="2">Steps</text:h><text:list><text:list-item><text:p>first</text:p><text:list><text:list-item><text:p>inner</text:p></text:list-item></text:list></text:list-item></text:list>` +
		`<table:table><table:table-row><table:table-cell><text:p>k</text:p></table:table-cell><table:table-cell><text:p>v</text:p></table:table-cell></table:table-row></table:table>` +
		`<text:p>Note<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>the footnote</text:p></text:note-body></text:note> end.</text:p>` +
		`</office:text></office:body></office:document-content>`
	meta := `<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/">` +
		`<office:meta><dc:title>Field Guide</dc:title><meta:initial-creator>Ada</meta:initial-creator><meta:keyword>a</meta:keyword><meta:keyword>b</meta:keyword></office:meta></office:document-meta>`
	data := zipOf(t, map[string]string{"mimetype": MediaODT, "content.xml": content, "meta.xml": meta})
	doc, err := DefaultLoader().LoadBytes(File{Path: "guide.odt"}, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: KindHeading, Text: "Field Guide", Heading: "Field Guide", Level: 1},
		{Kind: KindParagraph, Text: "One two three\nfour", Heading: "Field Guide"},
		{Kind: KindHeading, Text: "Steps", Heading: "Field Guide > Steps", Level: 2},
		{Kind: KindListItem, Text: "- first", Heading: "Field Guide > Steps"},
		{Kind: KindListItem, Text: "  - inner", Heading: "Field Guide > Steps"},
		{Kind: KindTable, Text: "k | v", Heading: "Field Guide > Steps"},
		{Kind: KindParagraph, Text: "the footnote", Heading: "Field Guide > Steps"},
		{Kind: KindParagraph, Text: "Note end.", Heading: "Field Guide > Steps"},
	}
	if !equalBlocks(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
	if metaString(doc.Metadata) != `author="Ada" keywords="a, b" title="Field Guide"` || doc.MediaType != MediaODT {
		t.Errorf("metadata %s, %s", metaString(doc.Metadata), doc.MediaType)
	}
}

// rawZip writes one entry whose header declares sizes other than its
// content's (as a crafted zip bomb does).
func rawZip(t *testing.T, name string, content []byte, declared uint64) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(content)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(content),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func TestLoadBadDOCX(t *testing.T) {
	zeros := string(make([]byte, 4<<20))
	docXML := func(n int) string {
		return `<w:document ` + wordNS + `><w:body>` + strings.Repeat(wpara("", "words"), n) + `</w:body></w:document>`
	}
	tests := []struct {
		name string
		file string
		data string
		l    Loader
		want error
		msg  string
	}{
		{"zero bytes", "e.docx", "", Loader{}, ErrEmpty, "0 bytes"},
		{"not a zip", "n.docx", "this is plain text, not a zip", Loader{}, ErrCorrupt, "not a zip archive (a DOCX file is one)"},
		{"damaged zip", "d.docx", "PK\x03\x04 and then nothing useful", Loader{}, ErrCorrupt, "damaged zip archive"},
		{"zip without a document", "z.docx", zipOf(t, map[string]string{"a.txt": "x"}), Loader{}, ErrCorrupt, "no word/document.xml"},
		{"bad xml", "x.docx", zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}), Loader{}, ErrCorrupt, "not well-formed XML"},
		{"ratio bomb", "b.docx", zipOf(t, map[string]string{"word/document.xml": docXML(1), "word/media/zeros.bin": zeros}), Loader{}, ErrExpansion, "expands"},
		{"over the total", "t.docx", zipOf(t, map[string]string{"word/document.xml": docXML(20000)}), Loader{MaxExpandedBytes: 64 << 10}, ErrExpansion, "more than 65536 bytes"},
		{"lying sizes", "l.docx", string(rawZip(t, "word/document.xml", []byte(docXML(50000)), 100)), Loader{}, ErrCorrupt, "zip"},
		{"no text", "empty.docx", zipOf(t, map[string]string{"word/document.xml": docXML(0)}), Loader{}, ErrEmpty, "no text"},
		{"odt not a zip", "n.odt", "plain", Loader{}, ErrCorrupt, "an ODT file is one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.LoadBytes(File{Path: tt.file}, []byte(tt.data))
			if !errors.Is(err, tt.want) || !IsContentError(err) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", err, tt.msg)
			}
		})
	}
}
