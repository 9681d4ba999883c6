package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

func utf16Bytes(t *testing.T, s string, order unicode.Endianness, bom bool) string {
	t.Helper()
	policy := unicode.IgnoreBOM
	if bom {
		policy = unicode.UseBOM
	}
	out, err := unicode.UTF16(order, policy).NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func latin1(t *testing.T, s string) string {
	t.Helper()
	out, err := charmap.ISO8859_1.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func allText(doc Document) string {
	var b strings.Builder
	for _, bl := range doc.Blocks {
		b.WriteString(bl.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLoadEncodings(t *testing.T) {
	const text = "Café crème, naïve façade — Grüße aus Köln.\n\nZweiter Absatz: «ça va»."
	latin := "Café crème, naïve façade - Grüße aus Köln.\n\nZweiter Absatz: «ça va»."
	tests := []struct {
		name, file, content string
		loader              Loader
		want                string // a substring of the text
	}{
		{"utf-16le bom", "a.txt", utf16Bytes(t, text, unicode.LittleEndian, true), Loader{}, "Grüße aus Köln"},
		{"utf-16be bom", "a.txt", utf16Bytes(t, text, unicode.BigEndian, true), Loader{}, "«ça va»"},
		{"utf-16le no bom", "a.md", utf16Bytes(t, text, unicode.LittleEndian, false), Loader{}, "naïve façade"},
		{"utf-8 bom", "a.txt", "\xef\xbb\xbf" + text, Loader{}, "Café crème"},
		{"latin-1 detected", "a.txt", latin1(t, latin), Loader{}, "Grüße aus Köln"},
		{"latin-1 short", "l.txt", "caf\xe9 au lait", Loader{}, "café au lait"},
		{"windows-1252 quotes", "q.txt", "He said \x93hello\x94 \x96 bye", Loader{}, "“hello” – bye"},
		{"given encoding", "a.txt", latin1(t, latin), Loader{Encoding: "iso-8859-1"}, "Zweiter Absatz: «ça va»"},
		{"given utf-16", "a.txt", utf16Bytes(t, text, unicode.LittleEndian, false), Loader{Encoding: "utf-16le"}, "Grüße"},
		{"given encoding overrides detection", "a.txt", "\xc3\xa9t\xc3\xa9", Loader{Encoding: "windows-1252"}, "Ã©tÃ©"},
		{"mostly valid utf-8 repaired", "r.md", strings.Repeat("déjà vu ", 200) + "\xff broken byte", Loader{}, "vu \uFFFD broken"},
		{"html meta charset", "p.html", `<html><head><meta charset="iso-8859-1"><title>Caf` + "\xe9" + `</title></head><body><p>` + latin1(t, "Grüße") + `</p></body></html>`, Loader{}, "Grüße"},
		{"html http-equiv", "p.htm", `<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head><body><p>` + "\x93quoted\x94" + `</p></body></html>`, Loader{}, "“quoted”"},
		{"html shift_jis", "j.html", `<meta charset="shift_jis"><p>` + "\x93\xfa\x96\x7b\x8c\xea" + `</p>`, Loader{}, "日本語"},
		{"html bom beats meta", "b.html", "\xef\xbb\xbf" + `<meta charset="iso-8859-1"><p>Grüße</p>`, Loader{}, "Grüße"},
		{"html utf-16 bom", "u.html", utf16Bytes(t, `<meta charset="utf-16"><p>Grüße</p>`, unicode.LittleEndian, true), Loader{}, "Grüße"},
		{"xhtml xml declaration", "x.xhtml", `<?xml version="1.0" encoding="ISO-8859-1"?><html><body><p>` + latin1(t, "Grüße") + `</p></body></html>`, Loader{}, "Grüße"},
		{"html undeclared latin-1", "n.html", "<p>" + latin1(t, "Grüße aus Köln") + "</p>", Loader{}, "Grüße aus Köln"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := loadString(t, tt.loader, tt.file, tt.content)
			if err != nil {
				t.Fatal(err)
			}
			if got := allText(doc); !strings.Contains(got, tt.want) {
				t.Errorf("text %q lacks %q", got, tt.want)
			}
		})
	}
}

func TestLoaderValidateEncoding(t *testing.T) {
	if err := (Loader{Encoding: "latin1"}).Validate(); err != nil {
		t.Errorf("latin1: %v", err)
	}
	err := (Loader{Encoding: "klingon-8"}).Validate()
	if err == nil || !strings.Contains(err.Error(), `"klingon-8"`) {
		t.Errorf("unknown encoding: %v", err)
	}
}

func TestLoadTruncatedUTF8(t *testing.T) {
	// A multi-byte sequence cut by the end of the file is UTF-8 cut
	// short, not Latin-1.
	_, err := loadString(t, Loader{}, "t.md", "# ok\n\nend \xe2\x82")
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err = %v", err)
	}
}

func TestSniffMediaType(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"pdf", "%PDF-1.4\n...", MediaPDF},
		{"pdf after junk", "junk\n%PDF-1.4\n", MediaPDF},
		{"html", "<!DOCTYPE html><html><body>x</body></html>", MediaHTML},
		{"xhtml", `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>x</body></html>`, MediaHTML},
		{"markdown heading", "# Read me\n\nSome text.\n", MediaMarkdown},
		{"markdown front matter", "---\ntitle: x\n---\ntext\n", MediaMarkdown},
		{"markdown setext", "Read me\n=======\n\ntext\n", MediaMarkdown},
		{"markdown fence", "Usage:\n\n```\nmake\n```\n", MediaMarkdown},
		{"plain", "This is a README.\nNothing special.\n", MediaText},
		{"script", "#!/bin/sh\n# comment\necho hi\n", MediaText},
		{"latin-1 text", "caf\xe9 au lait\n", MediaText},
		{"utf-16", "\xff\xfeh\x00i\x00", MediaText},
		{"docx", zipOf(t, map[string]string{"word/document.xml": "<w:document/>"}), MediaDOCX},
		{"odt", zipOf(t, map[string]string{"mimetype": MediaODT, "content.xml": "<x/>"}), MediaODT},
		{"zip", zipOf(t, map[string]string{"a": "b"}), ""},
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ""},
		{"xml", `<?xml version="1.0"?><feed></feed>`, ""},
	}
	for _, tt := range tests {
		if got, what := SniffMediaType([]byte(tt.content)); got != tt.want {
			t.Errorf("%s: %q (%s), want %q", tt.name, got, what, tt.want)
		}
	}
}

func TestLoadExtensionless(t *testing.T) {
	doc := mustLoad(t, "README", "# Project\n\nIt does things.\n\n## Install\n\nmake install\n")
	if doc.MediaType != MediaMarkdown || doc.Title != "Project" || len(doc.Blocks) != 4 {
		t.Errorf("README: %s %q %d blocks", doc.MediaType, doc.Title, len(doc.Blocks))
	}
	doc = mustLoad(t, "NOTES", "just some notes\n\nand more")
	if doc.MediaType != MediaText || len(doc.Blocks) != 2 || doc.Title != "NOTES" {
		t.Errorf("NOTES: %s %q %d blocks", doc.MediaType, doc.Title, len(doc.Blocks))
	}
	if _, err := loadString(t, Loader{}, "EMPTY", ""); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty extensionless file: %v", err)
	}
}

func TestLoadRSTAndAsciiDoc(t *testing.T) {
	rst := "==========\nUser Guide\n==========\n\nIntro text\nover two lines.\n\nInstall\n-------\n\nRun it.\n\nLinux\n~~~~~\n\nOn Linux.\n\nUsage\n-------\n\n:param x: the thing\n"
	doc := mustLoad(t, "guide.rst", rst)
	want := []Block{
		{Kind: KindHeading, Text: "User Guide", Heading: "User Guide", Level: 1},
		{Kind: KindParagraph, Text: "Intro text\nover two lines.", Heading: "User Guide"},
		{Kind: KindHeading, Text: "Install", Heading: "User Guide > Install", Level: 2},
		{Kind: KindParagraph, Text: "Run it.", Heading: "User Guide > Install"},
		{Kind: KindHeading, Text: "Linux", Heading: "User Guide > Install > Linux", Level: 3},
		{Kind: KindParagraph, Text: "On Linux.", Heading: "User Guide > Install > Linux"},
		{Kind: KindHeading, Text: "Usage", Heading: "User Guide > Usage", Level: 2},
		{Kind: KindParagraph, Text: ":param x: the thing", Heading: "User Guide > Usage"},
	}
	if !equalBlocks(doc.Blocks, want) || doc.MediaType != MediaRST {
		t.Errorf("rst %s:\n%s", doc.MediaType, diffBlocks(doc.Blocks, want))
	}
	adoc := "= Admin Manual\n:author: Ops\n\n// a comment\nPreamble text.\n\n== Backups\n\nTake them.\n\n=== Restore\nRestore them.\n"
	doc = mustLoad(t, "admin.adoc", adoc)
	want = []Block{
		{Kind: KindHeading, Text: "Admin Manual", Heading: "Admin Manual", Level: 1},
		{Kind: KindParagraph, Text: ":author: Ops", Heading: "Admin Manual"},
		{Kind: KindParagraph, Text: "Preamble text.", Heading: "Admin Manual"},
		{Kind: KindHeading, Text: "Backups", Heading: "Admin Manual > Backups", Level: 2},
		{Kind: KindParagraph, Text: "Take them.", Heading: "Admin Manual > Backups"},
		{Kind: KindHeading, Text: "Restore", Heading: "Admin Manual > Backups > Restore", Level: 3},
		{Kind: KindParagraph, Text: "Restore them.", Heading: "Admin Manual > Backups > Restore"},
	}
	if !equalBlocks(doc.Blocks, want) || doc.Title != "Admin Manual" || doc.MediaType != MediaAsciiDoc {
		t.Errorf("adoc %q %s:\n%s", doc.Title, doc.MediaType, diffBlocks(doc.Blocks, want))
	}
}

func equalBlocks(a, b []Block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadFrontMatter(t *testing.T) {
	src := "---\ntitle: \"Rotating Keys\"\ntags: [security, ops]\ndate: 2024-03-05\nauthor:\n  name: Ada\n  team: infra\ndraft: false\nempty:\n---\n\nBody text.\n"
	doc := mustLoad(t, "keys.md", src)
	want := map[string]string{"title": "Rotating Keys", "tags": "security, ops", "date": "2024-03-05",
		"author.name": "Ada", "author.team": "infra", "draft": "false"}
	if metaString(doc.Metadata) != metaString(want) {
		t.Errorf("metadata %s\nwant     %s", metaString(doc.Metadata), metaString(want))
	}
	if doc.Title != "Rotating Keys" || len(doc.Blocks) != 1 {
		t.Errorf("title %q, blocks %v", doc.Title, doc.Blocks)
	}
	// Not YAML: still removed, its key: value lines kept.
	doc = mustLoad(t, "bad.md", "---\ntitle: x: y: [\nlayout: post\n---\n# H\n")
	if doc.Metadata["layout"] != "post" || len(doc.Blocks) != 1 {
		t.Errorf("invalid YAML: %s, %v", metaString(doc.Metadata), doc.Blocks)
	}
	// Bounds: many keys, long values, control characters.
	var b strings.Builder
	b.WriteString("---\n")
	for i := range 100 {
		b.WriteString("k" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": v\n")
	}
	b.WriteString("long: " + strings.Repeat("y", 5000) + "\n---\ntext\n")
	doc = mustLoad(t, "many.md", b.String())
	if len(doc.Metadata) > maxMetaKeys {
		t.Errorf("%d keys", len(doc.Metadata))
	}
	for k, v := range doc.Metadata {
		if len(v) > maxMetaValueLen || len(k) > maxMetaKeyLen {
			t.Errorf("unbounded %q: %d bytes", k, len(v))
		}
	}
}

func TestChunkMetadata(t *testing.T) {
	doc := Document{Metadata: map[string]string{"author": "Ada", "page": "x"}}
	m := ChunkMetadata(doc, Chunk{Page: 3, PageEnd: 4})
	if metaString(m) != `author="Ada" page="3" page_end="4"` {
		t.Errorf("got %s", metaString(m))
	}
	if m := ChunkMetadata(doc, Chunk{}); metaString(m) != `author="Ada" page="x"` {
		t.Errorf("no page: %s", metaString(m))
	}
	if m := ChunkMetadata(Document{}, Chunk{}); m != nil {
		t.Errorf("empty: %v", m)
	}
	doc.Metadata["author"] = "changed"
	if m["author"] != "Ada" {
		t.Error("ChunkMetadata does not copy")
	}
}

// changingReader appends to the file it reads on its first Read, as a
// writer would while Load reads.
type changingReader struct {
	f    *os.File
	path string
	done bool
}

func (r *changingReader) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		w, err := os.OpenFile(r.path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		_, err = w.WriteString(" and more text written meanwhile")
		w.Close()
		if err != nil {
			return 0, err
		}
		// Make sure the modification time moves on coarse clocks too.
		later := time.Now().Add(2 * time.Second)
		if err := os.Chtimes(r.path, later, later); err != nil {
			return 0, err
		}
	}
	return r.f.Read(p)
}

func TestLoadFileChangedWhileRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.txt")
	if err := os.WriteFile(p, []byte("first version of the text"), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	before, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	_, err = readStable(fh, before, &changingReader{f: fh, path: p}, DefaultMaxBytes)
	if !errors.Is(err, ErrChanged) || IsContentError(err) {
		t.Fatalf("err = %v, want ErrChanged (not a content error)", err)
	}
	if !strings.Contains(err.Error(), "load it again") {
		t.Errorf("message %q", err)
	}
	// A file shorter than its size said (truncated meanwhile, same mtime).
	fh2, _ := os.Open(p)
	defer fh2.Close()
	info, _ := fh2.Stat()
	if _, err := readStable(fh2, info, strings.NewReader("short"), DefaultMaxBytes); !errors.Is(err, ErrChanged) {
		t.Errorf("short read: %v", err)
	}
	// Unchanged: fine.
	if data, err := readStable(fh2, info, fh2, DefaultMaxBytes); err != nil || int64(len(data)) != info.Size() {
		t.Errorf("unchanged: %d bytes, %v", len(data), err)
	}
}

func TestPlausibleLatin1(t *testing.T) {
	for s, want := range map[string]bool{
		latin1(t, "Grüße aus Köln, à la carte, «ça»"): true,
		"valid start \xff\xfe then broken":            false, // two high letters alone: not a word
		"x \x81 y":                                    false, // undefined in Windows-1252
		"end \xe9\xe8":                                false,
		latin1(t, "Schöß daß"):                        true,
		"\xe9t\xe9":                                   true,
	} {
		if got := plausibleLatin1([]byte(s)); got != want {
			t.Errorf("plausibleLatin1(%q) = %v", s, got)
		}
	}
	// As the integration test has it: refused, not read as Latin-1.
	if _, err := loadString(t, Loader{}, "invalid.txt", "valid start \xff\xfe then broken"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("err = %v", err)
	}
}

func TestLoadBytesExtensionlessNil(t *testing.T) {
	if _, err := DefaultLoader().LoadBytes(File{Path: "README"}, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("err = %v, want ErrEmpty", err)
	}
}

func TestLoadDocNames(t *testing.T) {
	for _, name := range []string{"README.Debian", "NEWS.old", "readme.source", "CHANGELOG.1"} {
		doc, err := loadString(t, DefaultLoader(), name, "Notes for this system.\n\nMore notes.\n")
		if err != nil || doc.MediaType != MediaText {
			t.Errorf("%s: %v %q", name, err, doc.MediaType)
		}
	}
	if _, err := loadString(t, DefaultLoader(), "README.png", "\x89PNG\r\n\x1a\n\x00\x00"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("binary README.png: %v", err)
	}
	if _, err := loadString(t, DefaultLoader(), "notes.conf", "a=b"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("notes.conf: %v", err)
	}
}
