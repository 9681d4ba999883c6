package ingest

import (
	"testing"
	"unicode/utf8"
)

// FuzzLoad feeds arbitrary bytes to every loader. Load must never panic;
// when it succeeds, its blocks and their chunks must be well formed.
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
		"---\ntitle: front\n---\n# x\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	c := Chunker{MaxTokens: 16, OverlapTokens: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.md", "f.html", "f.txt"} {
			doc, err := DefaultLoader().LoadBytes(File{Path: name}, data)
			if err != nil {
				if !IsContentError(err) {
					t.Fatalf("%s: unexpected error class: %v", name, err)
				}
				continue
			}
			if len(doc.Blocks) == 0 {
				t.Fatalf("%s: no blocks and no error", name)
			}
			for _, b := range doc.Blocks {
				if b.Text == "" || !utf8.ValidString(b.Text) {
					t.Fatalf("%s: bad block %q", name, b.Text)
				}
			}
			chunks := c.Split(doc)
			for i, ch := range chunks {
				if ch.Index != i || ch.Tokens > c.MaxTokens || ch.Tokens != CountTokens(ch.Text) {
					t.Fatalf("%s: bad chunk %d: %+v", name, i, ch)
				}
			}
		}
		// The parsers themselves, without the recover in parse, so that a
		// panic is a test failure rather than an error value.
		if utf8.Valid(data) {
			parseMarkdown(data)
			parseHTML(data)
			parseText(data)
		}
	})
}
