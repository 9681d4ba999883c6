package ingest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestLoadPDF(t *testing.T) {
	data := testPDF(t, pdfOptions{})
	doc, err := DefaultLoader().LoadBytes(File{Path: "handbook.pdf"}, data)
	if err != nil {
		t.Fatal(err)
	}
	const top = "Kafka Operations Handbook"
	want := []Block{
		{Kind: KindHeading, Text: top, Heading: top, Level: 1, Page: 1},
		{Kind: KindParagraph, Text: "This handbook explains how to run the brokers that carry every document through the pipeline. " +
			"It covers partitions, retention and consumer lag, with the commands an operator needs on a bad day.", Heading: top, Page: 1},
		{Kind: KindHeading, Text: "Partitions", Heading: top + " > Partitions", Level: 2, Page: 1},
		{Kind: KindParagraph, Text: "A topic is split into partitions. Each partition is an ordered log, and the records of one document " +
			"share a key, so they land on one partition and keep their order.", Heading: top + " > Partitions", Page: 1},
		{Kind: KindHeading, Text: "Retention", Heading: top + " > Retention", Level: 2, Page: 2},
		{Kind: KindParagraph, Text: "Retention decides how long records stay on disk. The table lists the settings of the pipeline topics.", Heading: top + " > Retention", Page: 2},
		{Kind: KindTable, Text: "Topic | Partitions | Retention\ndocuments.parsed | 12 | 7 days\nchunks.embedded | 12 | 7 days\ndocuments.dlq | 3 | 30 days", Heading: top + " > Retention", Page: 2},
		{Kind: KindParagraph, Text: "Compacted topics keep the newest record of each key instead.", Heading: top + " > Retention", Page: 2},
		{Kind: KindHeading, Text: "Consumer Lag", Heading: top + " > Consumer Lag", Level: 2, Page: 3},
		{Kind: KindParagraph, Text: "Lag is the distance between the newest offset and the committed one. A growing lag means the " +
			"workers cannot keep up: add workers to the group, up to the number of partitions.", Heading: top + " > Consumer Lag", Page: 3},
	}
	if !equalBlocks(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
	wantMeta := map[string]string{"author": "Ada Lovelace", "created": "2024-03-05T10:30:00Z", "creator": "ragpipe tests",
		"keywords": "kafka, operations", "modified": "2024-03-06T08:00:00Z", "pages": "3", "producer": "FPDF 1.7",
		"subject": "Running Kafka", "title": top}
	if metaString(doc.Metadata) != metaString(wantMeta) {
		t.Errorf("metadata %s", metaString(doc.Metadata))
	}
	if doc.Title != top || doc.MediaType != MediaPDF {
		t.Errorf("title %q, media type %q", doc.Title, doc.MediaType)
	}

	// Chunks know their pages.
	c := Chunker{MaxTokens: 40, OverlapTokens: 4}
	chunks := c.Split(doc)
	checkChunks(t, c, doc, chunks)
	prev := 0
	for _, ch := range chunks {
		if ch.Page < 1 || ch.Page > 3 || ch.PageEnd < ch.Page || ch.Page < prev {
			t.Errorf("chunk %d: pages %d-%d after %d", ch.Index, ch.Page, ch.PageEnd, prev)
		}
		prev = ch.Page
		if m := ChunkMetadata(doc, ch); m[MetaPage] == "" || m["author"] != "Ada Lovelace" {
			t.Errorf("chunk %d metadata %v", ch.Index, m)
		}
	}
	// Without headings, all the text fits one chunk that names both ends.
	flat := doc
	flat.Blocks = nil
	for _, b := range doc.Blocks {
		if b.Kind != KindHeading {
			flat.Blocks = append(flat.Blocks, b)
		}
	}
	if whole := DefaultChunker().Split(flat); len(whole) != 1 || whole[0].Page != 1 || whole[0].PageEnd != 3 {
		t.Errorf("one chunk: %+v", whole)
	} else if m := ChunkMetadata(doc, whole[0]); m[MetaPage] != "1" || m[MetaPageEnd] != "3" {
		t.Errorf("one chunk metadata %v", m)
	}
}

func TestLoadPDFFromDisk(t *testing.T) {
	doc, err := loadString(t, DefaultLoader(), "handbook.pdf", string(testPDF(t, pdfOptions{})))
	if err != nil || doc.DocID != "docs/handbook.pdf" || len(doc.Blocks) != 10 {
		t.Fatalf("%v: %+v", err, doc)
	}
	// Without an extension, by its content.
	doc, err = loadString(t, DefaultLoader(), "handbook", string(testPDF(t, pdfOptions{})))
	if err != nil || doc.MediaType != MediaPDF {
		t.Fatalf("extensionless: %v %q", err, doc.MediaType)
	}
}

func TestLoadPDFVariants(t *testing.T) {
	// Encrypted with an empty user password (permissions only): the
	// reader opens it; the text comes out, or a clear ErrEncrypted when
	// the content does not decrypt (as with fpdf's RC4 output today).
	doc, err := DefaultLoader().LoadBytes(File{Path: "p.pdf"}, testPDF(t, pdfOptions{ownerPassword: "owner"}))
	if err == nil && !strings.Contains(allText(doc), "Compacted topics keep the newest record") ||
		err != nil && !(errors.Is(err, ErrEncrypted) && strings.Contains(err.Error(), "could not be decrypted")) {
		t.Errorf("owner-password PDF: %v\n%s", err, allText(doc))
	}
	// PDF 2.0 header, junk before the header, junk after %%EOF.
	data := testPDF(t, pdfOptions{})
	v2 := bytes.Replace(data, []byte("%PDF-1.3"), []byte("%PDF-2.0"), 1)
	if !bytes.HasPrefix(v2, []byte("%PDF-2.0")) {
		t.Fatalf("header %q", data[:10])
	}
	trailing := append(append([]byte{}, data...), "\n\x00\x00garbage after the end"...)
	for name, d := range map[string][]byte{"pdf 2.0": v2, "trailing junk": trailing} {
		if doc, err := DefaultLoader().LoadBytes(File{Path: "p.pdf"}, d); err != nil || len(doc.Blocks) != 10 {
			t.Errorf("%s: %v, %d blocks", name, err, len(doc.Blocks))
		}
	}
}

func TestLoadBadPDF(t *testing.T) {
	good := testPDF(t, pdfOptions{})
	xref := bytes.LastIndex(good, []byte("\nxref"))
	brokenXref := append([]byte{}, good...)
	copy(brokenXref[xref+1:], "yzzy")
	badOffsets := append([]byte{}, good...)
	if i := bytes.LastIndex(badOffsets, []byte("startxref\n")); i > 0 {
		copy(badOffsets[i+len("startxref\n"):], "12")
	}
	tests := []struct {
		name string
		data []byte
		l    Loader
		want error
		msg  string
	}{
		{"zero bytes", nil, Loader{}, ErrEmpty, "0 bytes"},
		{"not a pdf", []byte("hello, world"), Loader{}, ErrCorrupt, "no %PDF- header"},
		{"header only", []byte("%PDF-1.7\n"), Loader{}, ErrCorrupt, "truncated PDF"},
		{"truncated at half", good[:len(good)/2], Loader{}, ErrCorrupt, "truncated PDF"},
		{"truncated before the end marker", good[:len(good)-6], Loader{}, ErrCorrupt, "truncated PDF"},
		{"broken xref", brokenXref, Loader{}, ErrCorrupt, "damaged PDF"},
		{"bad startxref", badOffsets, Loader{}, ErrCorrupt, "PDF"},
		{"encrypted", testPDF(t, pdfOptions{userPassword: "secret", ownerPassword: "owner"}), Loader{}, ErrEncrypted, "needs a password"},
		{"no text", testPDF(t, pdfOptions{noText: true}), Loader{}, ErrEmpty, "OCR"},
		{"expands past the limit", good, Loader{MaxExpandedBytes: 200}, ErrExpansion, "page content expands"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.LoadBytes(File{Path: "bad.pdf"}, tt.data)
			if !errors.Is(err, tt.want) || !IsContentError(err) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "bad.pdf") {
				t.Errorf("message %q lacks %q", err, tt.msg)
			}
		})
	}
}

// TestLoadPDFFlippedBytes flips bytes all over a real PDF: every result
// is a document or a content error, never a panic or a hang.
func TestLoadPDFFlippedBytes(t *testing.T) {
	good := testPDF(t, pdfOptions{})
	ok, failed := 0, 0
	for i := 0; i < len(good); i += max(1, len(good)/300) {
		for _, flip := range []byte{0xff, 0x20} {
			d := append([]byte{}, good...)
			d[i] ^= flip
			if _, err := DefaultLoader().LoadBytes(File{Path: "f.pdf"}, d); err == nil {
				ok++
			} else if !IsContentError(err) {
				t.Fatalf("byte %d: %v is not a content error", i, err)
			} else {
				failed++
			}
		}
	}
	t.Logf("%d flipped files read, %d refused", ok, failed)
}

// A page whose content is over the per-page bound (a drawing) is skipped
// and named in the metadata; the other pages are read.
func TestLoadPDFSkipsHugePages(t *testing.T) {
	data := testPDF(t, pdfOptions{})
	p, err := parsePDF(data, limits{expanded: DefaultMaxExpandedBytes, pdfPage: 1500})
	if err != nil {
		t.Fatal(err)
	}
	pages := map[int]bool{}
	for _, b := range p.blocks {
		pages[b.Page] = true
	}
	if p.meta["pages_skipped"] != "2" || len(pages) != 2 || !pages[1] || !pages[3] {
		t.Errorf("skipped %q, pages read %v", p.meta["pages_skipped"], pages)
	}
	t.Logf("skipped %s, read %v", p.meta["pages_skipped"], pages)
}

// A two-column page is read column by column, the title first.
func TestLoadPDFTwoColumns(t *testing.T) {
	left := "The left column starts the argument and runs on for a while, long enough to wrap over several lines of the column, so that the reader sees a real column of prose. " +
		"A second sentence makes it longer still, because a column of a paper holds far more than a few lines, and the reader should not mistake it for a table. It ends with the word LEFTEND."
	right := "The right column continues the argument where the left one stopped, and it too wraps over several lines of text to make a column of its own. " +
		"It adds a sentence of its own as well, so that both columns are about as long as each other and fill the page side by side. It ends with the word RIGHTEND."
	doc, err := DefaultLoader().LoadBytes(File{Path: "cols.pdf"}, twoColumnPDF(t, left, right))
	if err != nil {
		t.Fatal(err)
	}
	text := allText(doc)
	ti, l0, l1, r0, r1 := strings.Index(text, "A Study of Two Columns"), strings.Index(text, "The left column"), strings.Index(text, "LEFTEND"),
		strings.Index(text, "The right column"), strings.Index(text, "RIGHTEND")
	if ti < 0 || !(ti < l0 && l0 < l1 && l1 < r0 && r0 < r1) {
		t.Errorf("not in reading order (%d %d %d %d %d):\n%s", ti, l0, l1, r0, r1, text)
	}
	if !strings.Contains(text, left) || !strings.Contains(text, right) {
		t.Errorf("columns not whole:\n%s", text)
	}
	// The table of the handbook is not taken for columns.
	doc, _ = DefaultLoader().LoadBytes(File{Path: "h.pdf"}, testPDF(t, pdfOptions{}))
	if !strings.Contains(allText(doc), "Topic | Partitions | Retention\ndocuments.parsed | 12 | 7 days") {
		t.Errorf("table read as columns:\n%s", allText(doc))
	}
}

// Running headers and page-number footers are left out; text inside a
// form XObject is read.
func TestLoadPDFRunningHeadersAndForms(t *testing.T) {
	doc, err := DefaultLoader().LoadBytes(File{Path: "h.pdf"}, headedPDF(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	text := allText(doc)
	for i := 1; i <= 4; i++ {
		if !strings.Contains(text, "Body of page "+strconv.Itoa(i)+".") {
			t.Errorf("page %d body missing:\n%s", i, text)
		}
	}
	if strings.Contains(text, "Kafka Operations Handbook") || strings.Contains(text, "Page 2") {
		t.Errorf("running header or footer kept:\n%s", text)
	}
	if !strings.Contains(text, "Text drawn inside a form XObject.") {
		t.Errorf("form text missing:\n%s", text)
	}
}

func TestPDFLineCleanup(t *testing.T) {
	gs := []glyph{{x: 10, y: 100, w: 5, size: 10, s: "\ufb01"}, {x: 15, y: 100, w: 5, size: 10, s: "le"},
		{x: 30, y: 100, w: 3, size: 10, s: ". . . . . ."}, {x: 35, y: 100, w: 5, size: 10, s: "7"}}
	l, ok := lineText(gs)
	if !ok || l.text != "file … 7" {
		t.Errorf("line %q", l.text)
	}
	for s, want := range map[string]bool{"14": true, "xii": true, "- 3 -": true, "Page 3 of 9": true, "mixed": false, "did": false, "3 apples": false} {
		if pageNumber.MatchString(s) != want {
			t.Errorf("pageNumber(%q) != %v", s, want)
		}
	}
}
