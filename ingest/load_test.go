package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// loadString writes content to a file called name and loads it.
func loadString(t *testing.T, l Loader, name, content string) (Document, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return l.Load(File{Path: p, DocID: "docs/" + name, Size: int64(len(content))})
}

func mustLoad(t *testing.T, name, content string) Document {
	t.Helper()
	doc, err := loadString(t, DefaultLoader(), name, content)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return doc
}

func TestLoadMarkdown(t *testing.T) {
	src := "# Install Guide\n\n" +
		"Intro with *emphasis*, `inline code`, a [link](https://example.com) and &amp; \\*escapes\\*.\n" +
		"Still the same paragraph.\n\n" +
		"## Linux\n\n" +
		"- first item\n" +
		"- second **bold** item\n" +
		"  - nested item\n\n" +
		"3. three\n" +
		"4. four\n\n" +
		"```sh\n" +
		"apt-get install ragpipe\n" +
		"  --yes\n" +
		"```\n\n" +
		"### Debian\n\n" +
		"| key | value |\n|---|---|\n| a | 1 |\n\n" +
		"> quoted words\n\n" +
		"<div>raw <b>html</b></div>\n\n" +
		"---\n\n" +
		"## macOS\n\n" +
		"Setext heading\n--------------\n\nlast words\n"
	doc := mustLoad(t, "install.md", src)
	if doc.Title != "Install Guide" || doc.MediaType != MediaMarkdown || doc.DocID != "docs/install.md" {
		t.Errorf("doc = %q %q %q", doc.Title, doc.MediaType, doc.DocID)
	}
	want := []Block{
		{Kind: KindHeading, Text: "Install Guide", Heading: "Install Guide", Level: 1},
		{Kind: KindParagraph, Text: "Intro with emphasis, inline code, a link and & *escapes*. Still the same paragraph.", Heading: "Install Guide"},
		{Kind: KindHeading, Text: "Linux", Heading: "Install Guide > Linux", Level: 2},
		{Kind: KindListItem, Text: "- first item", Heading: "Install Guide > Linux"},
		{Kind: KindListItem, Text: "- second bold item", Heading: "Install Guide > Linux"},
		{Kind: KindListItem, Text: "  - nested item", Heading: "Install Guide > Linux"},
		{Kind: KindListItem, Text: "3. three", Heading: "Install Guide > Linux"},
		{Kind: KindListItem, Text: "4. four", Heading: "Install Guide > Linux"},
		{Kind: KindCode, Text: "apt-get install ragpipe\n  --yes", Heading: "Install Guide > Linux"},
		{Kind: KindHeading, Text: "Debian", Heading: "Install Guide > Linux > Debian", Level: 3},
		{Kind: KindTable, Text: "key | value\na | 1", Heading: "Install Guide > Linux > Debian"},
		{Kind: KindQuote, Text: "quoted words", Heading: "Install Guide > Linux > Debian"},
		{Kind: KindParagraph, Text: "raw html", Heading: "Install Guide > Linux > Debian"},
		{Kind: KindHeading, Text: "macOS", Heading: "Install Guide > macOS", Level: 2},
		{Kind: KindHeading, Text: "Setext heading", Heading: "Install Guide > Setext heading", Level: 2},
		{Kind: KindParagraph, Text: "last words", Heading: "Install Guide > Setext heading"},
	}
	if !reflect.DeepEqual(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
}

func diffBlocks(got, want []Block) string {
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w Block
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "! "
		}
		b.WriteString(mark + "got  " + blockString(g) + "\n")
		if g != w {
			b.WriteString(mark + "want " + blockString(w) + "\n")
		}
	}
	return b.String()
}

func blockString(b Block) string {
	return string(b.Kind) + " L" + string(rune('0'+b.Level)) + " [" + b.Heading + "] " + strings.ReplaceAll(b.Text, "\n", `\n`)
}

func TestLoadMarkdownTitle(t *testing.T) {
	tests := []struct{ name, src, title string }{
		{"no-heading.md", "just text\n", "no-heading"},
		{"h2-first.markdown", "## Sub\n\ntext\n\n# Real Title\n", "Real Title"},
		{"UPPER.MD", "# Upper\n", "Upper"},
		{"front.md", "---\ntitle: \"From Front Matter\"\ntags: [a]\n---\n\nBody text.\n", "From Front Matter"},
		{"front-h1.md", "---\ntitle: ignored\n---\n# Heading Wins\n", "Heading Wins"},
		{"rule.md", "---\n\nnot front matter\n", "rule"},
	}
	for _, tt := range tests {
		doc := mustLoad(t, tt.name, tt.src)
		if doc.Title != tt.title {
			t.Errorf("%s: title %q, want %q", tt.name, doc.Title, tt.title)
		}
		for _, b := range doc.Blocks {
			if strings.Contains(b.Text, "title:") || strings.Contains(b.Text, "tags:") {
				t.Errorf("%s: front matter in block %q", tt.name, b.Text)
			}
		}
	}
}

func TestLoadHTML(t *testing.T) {
	src := `<!DOCTYPE html><html><head><title>Caf&eacute; &amp; Notes</title>
<style>p { color: red }</style><script>var hidden = "script text";</script></head>
<body><nav><a href="/">Navigation link</a></nav>
<h1>Main   heading</h1>
<p>Hello&nbsp;world &lt;tag&gt;
   across lines.<br>After break.</p>
<div>Loose text <span>inline</span><p>inner paragraph</p></div>
<h2>Lists</h2>
<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>
<ol start="7"><li>seven</li></ol>
<pre>
code  keeps   spaces
  and indentation
</pre>
<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>
<blockquote>quoted <em>words</em></blockquote>
<noscript>enable javascript</noscript>
<footer>footer text</footer>
<!-- a comment -->
</body></html>`
	doc := mustLoad(t, "page.html", src)
	if doc.Title != "Café & Notes" || doc.MediaType != MediaHTML {
		t.Errorf("title %q, media type %q", doc.Title, doc.MediaType)
	}
	want := []Block{
		{Kind: KindHeading, Text: "Main heading", Heading: "Main heading", Level: 1},
		{Kind: KindParagraph, Text: "Hello world <tag> across lines.\nAfter break.", Heading: "Main heading"},
		{Kind: KindParagraph, Text: "Loose text inline", Heading: "Main heading"},
		{Kind: KindParagraph, Text: "inner paragraph", Heading: "Main heading"},
		{Kind: KindHeading, Text: "Lists", Heading: "Main heading > Lists", Level: 2},
		{Kind: KindListItem, Text: "- one", Heading: "Main heading > Lists"},
		{Kind: KindListItem, Text: "- two", Heading: "Main heading > Lists"},
		{Kind: KindListItem, Text: "  - nested", Heading: "Main heading > Lists"},
		{Kind: KindListItem, Text: "7. seven", Heading: "Main heading > Lists"},
		{Kind: KindCode, Text: "code  keeps   spaces\n  and indentation", Heading: "Main heading > Lists"},
		{Kind: KindTable, Text: "k | v\na | 1", Heading: "Main heading > Lists"},
		{Kind: KindQuote, Text: "quoted words", Heading: "Main heading > Lists"},
	}
	if !reflect.DeepEqual(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
	all := ""
	for _, b := range doc.Blocks {
		all += b.Text + "\n"
	}
	for _, bad := range []string{"script text", "color", "Navigation", "footer", "javascript", "comment", "&amp;", "&lt;"} {
		if strings.Contains(all, bad) {
			t.Errorf("text contains %q:\n%s", bad, all)
		}
	}
}

func TestLoadHTMLTitleFallback(t *testing.T) {
	if doc := mustLoad(t, "a.htm", "<h2>Sub</h2><h1>First H1</h1><p>x</p>"); doc.Title != "First H1" {
		t.Errorf("title %q, want the first h1", doc.Title)
	}
	if doc := mustLoad(t, "plain-page.html", "<p>only a paragraph</p>"); doc.Title != "plain-page" {
		t.Errorf("title %q, want the file name", doc.Title)
	}
}

func TestLoadText(t *testing.T) {
	src := "\xef\xbb\xbfFirst paragraph\r\nstill first.\r\n\r\n  \t \r\nSecond paragraph.\n\n\n\nThird\n"
	doc := mustLoad(t, "notes.txt", src)
	want := []Block{
		{Kind: KindParagraph, Text: "First paragraph\nstill first."},
		{Kind: KindParagraph, Text: "Second paragraph."},
		{Kind: KindParagraph, Text: "Third"},
	}
	if !reflect.DeepEqual(doc.Blocks, want) {
		t.Errorf("blocks:\n%s", diffBlocks(doc.Blocks, want))
	}
	if doc.Title != "notes" || doc.MediaType != MediaText {
		t.Errorf("title %q, media type %q", doc.Title, doc.MediaType)
	}
	if doc := mustLoad(t, "x.text", "a"); len(doc.Blocks) != 1 {
		t.Errorf(".text: %d blocks", len(doc.Blocks))
	}
}

func TestLoadErrors(t *testing.T) {
	binary := strings.Repeat("\x01\x02\x03text", 100)
	tests := []struct {
		name    string
		file    string
		content string
		loader  Loader
		want    error
		msg     []string // substrings of the message
	}{
		{name: "empty", file: "e.md", content: "", want: ErrEmpty, msg: []string{"docs/e.md", "0 bytes"}},
		{name: "whitespace only", file: "w.txt", content: " \n\t\r\n  ", want: ErrEmpty, msg: []string{"only whitespace"}},
		{name: "bom and whitespace", file: "b.txt", content: "\xef\xbb\xbf \n", want: ErrEmpty},
		{name: "markup only", file: "m.html", content: "<html><script>x()</script><!-- c --></html>", want: ErrEmpty, msg: []string{"no text"}},
		{name: "markdown rule only", file: "r.md", content: "---\n***\n", want: ErrEmpty},
		{name: "nul byte", file: "n.txt", content: "text\x00more", want: ErrBinary, msg: []string{"NUL byte at offset 4"}},
		{name: "control bytes", file: "c.md", content: binary, want: ErrBinary},
		// (Not starting with FF FE, which is a UTF-16 byte order mark.)
		{name: "random high bytes", file: "h.txt", content: strings.Repeat("\xfe\xc3\xff", 100), want: ErrBinary},
		{name: "mostly invalid utf-8", file: "l.txt", content: "caf\xc3\xa9 " + strings.Repeat("na\xefve ", 20), want: ErrInvalidUTF8,
			msg: []string{"byte offset 8", "20 of 126 bytes are invalid", "--encoding"}},
		{name: "truncated sequence", file: "t.md", content: "# ok\n\nend \xe2\x82", want: ErrInvalidUTF8, msg: []string{"byte offset 10"}},
		{name: "unsupported", file: "book.epub", content: "PK\x03\x04", want: ErrUnsupported, msg: []string{`".epub"`, ".md", ".pdf", ".docx"}},
		{name: "no extension, binary", file: "program", content: "\x7fELF\x02\x01\x01\x00\x00\x00", want: ErrUnsupported,
			msg: []string{"no file extension", "application/octet-stream"}},
		{name: "no extension, zip", file: "archive", content: zipOf(t, map[string]string{"a.txt": "x"}), want: ErrUnsupported,
			msg: []string{"neither DOCX nor ODT"}},
		{name: "over a small limit", file: "s.txt", content: "eleven byte", loader: Loader{MaxBytes: 10}, want: ErrTooLarge, msg: []string{"11 bytes", "limit of 10 bytes", "--max-file-size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.loader, tt.file, tt.content)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !IsContentError(err) {
				t.Errorf("IsContentError(%v) = false", err)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q lacks %q", err, m)
				}
			}
			for _, other := range []error{ErrEmpty, ErrBinary, ErrInvalidUTF8, ErrUnsupported, ErrTooLarge, ErrCorrupt, ErrEncrypted, ErrExpansion, ErrChanged} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %v) = true", err, other)
				}
			}
		})
	}
}

func TestLoadInvalidUTF8Offset(t *testing.T) {
	bad := strings.Repeat("\xc0\xaf", 200) + "rest"
	content := strings.Repeat("valid text é ", 1000) + bad
	_, err := loadString(t, Loader{}, "x.md", content)
	var ie *InvalidUTF8Error
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *InvalidUTF8Error", err)
	}
	if want := int64(len(content) - len(bad)); ie.Offset != want || ie.Invalid != 400 || ie.Size != int64(len(content)) {
		t.Errorf("offset %d, invalid %d, size %d; want offset %d, 400 of %d", ie.Offset, ie.Invalid, ie.Size, want, len(content))
	}
}

// TestLoadTooLargeNotRead checks the size before reading: a sparse 50 MB
// file is rejected without its content being read into memory.
func TestLoadTooLargeNotRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.txt")
	if err := os.WriteFile(p, []byte("start"), 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 50 << 20
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DefaultLoader().Load(File{Path: p, DocID: "huge.txt"})
	runtime.ReadMemStats(&after)

	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want *TooLargeError", err)
	}
	if tl.Size != size || tl.Limit != DefaultMaxBytes {
		t.Errorf("size %d limit %d, want %d and %d", tl.Size, tl.Limit, size, DefaultMaxBytes)
	}
	for _, m := range []string{"huge.txt", "52428800 bytes (50 MiB)", "33554432 bytes (32 MiB)", "--max-file-size"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("message %q lacks %q", err, m)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Load allocated %d bytes for a file it should not read", alloc)
	}
}

func TestLoadIOErrors(t *testing.T) {
	_, err := DefaultLoader().Load(File{Path: filepath.Join(t.TempDir(), "gone.md")})
	if err == nil || IsContentError(err) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "gone.md") {
		t.Errorf("missing file: message %v does not name the file", err)
	}
	dir := filepath.Join(t.TempDir(), "dir.md")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := DefaultLoader().Load(File{Path: dir}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("loading a directory: err = %v, want ErrUnsupported", err)
	}

}

func TestLoadBytes(t *testing.T) {
	doc, err := DefaultLoader().LoadBytes(File{Path: "guide/intro.md"}, []byte("# Intro\n\nHello."))
	if err != nil {
		t.Fatal(err)
	}
	if doc.DocID != "intro.md" || doc.Title != "Intro" || len(doc.Blocks) != 2 {
		t.Errorf("doc = %+v", doc)
	}
	if _, err := (Loader{MaxBytes: 3}).LoadBytes(File{Path: "a.txt"}, []byte("four")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestLoaderValidate(t *testing.T) {
	tests := []struct {
		l  Loader
		ok bool
	}{
		{DefaultLoader(), true},
		{Loader{}, true}, // zero means the default
		{Loader{MaxBytes: 1}, true},
		{Loader{MaxBytes: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.l.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v", tt.l, err)
		}
	}
	if DefaultLoader().MaxBytes != 32<<20 {
		t.Errorf("default MaxBytes = %d", DefaultLoader().MaxBytes)
	}
}

func TestMediaTypeOf(t *testing.T) {
	tests := map[string]string{
		"a.md": MediaMarkdown, "a.MARKDOWN": MediaMarkdown, "a.txt": MediaText, "a.text": MediaText,
		"a.html": MediaHTML, "a.HTM": MediaHTML, "a.pdf": MediaPDF, "a.DOCX": MediaDOCX, "a.odt": MediaODT,
		"a.rst": MediaRST, "a.adoc": MediaAsciiDoc, "README": "", "a.md.bak": "", "a.doc": "",
	}
	for name, want := range tests {
		got, ok := MediaTypeOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("MediaTypeOf(%q) = %q, %v", name, got, ok)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 32 << 20: "32 MiB", 50 << 20: "50 MiB", 3 << 30: "3 GiB"}
	for n, want := range tests {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestLoadDeepHTML nests elements 100,000 deep: the parser refuses past
// 512, and the tokenizer reads the text instead, quickly.
func TestLoadDeepHTML(t *testing.T) {
	for _, tag := range []string{"div", "span", "table", "ul><li", "blockquote"} {
		src := "<html><body><h1>Deep</h1>" + strings.Repeat("<"+tag+">", 100000) + "deep text<script>x()</script>" + strings.Repeat("</"+tag+">", 1000)
		start := time.Now()
		doc, err := DefaultLoader().LoadBytes(File{Path: "deep.html"}, []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		if !strings.Contains(allText(doc), "deep text") || strings.Contains(allText(doc), "x()") {
			t.Errorf("%s: text %q", tag, allText(doc))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: %v", tag, d)
		}
		// And chunking it stays within bounds.
		checkChunks(t, DefaultChunker(), doc, DefaultChunker().Split(doc))
	}
}
