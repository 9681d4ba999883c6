package ingest

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// checkChunks verifies the invariants every Split result must hold.
func checkChunks(t *testing.T, c Chunker, doc Document, chunks []Chunk) {
	t.Helper()
	if len(doc.Blocks) > 0 && len(chunks) == 0 {
		t.Fatalf("%s: no chunks for %d blocks", doc.DocID, len(doc.Blocks))
	}
	words := map[string]bool{}
	for i, ch := range chunks {
		if ch.Index != i {
			t.Fatalf("%s: chunk %d has Index %d", doc.DocID, i, ch.Index)
		}
		if strings.TrimSpace(ch.Text) == "" || ch.Text != strings.TrimSpace(ch.Text) && !strings.HasPrefix(ch.Text, " ") {
			t.Errorf("%s: chunk %d text %q is empty or untrimmed", doc.DocID, i, ch.Text)
		}
		count := CountTokens
		if c.Tokenizer != nil {
			count = c.Tokenizer.CountTokens
		}
		if got := count(ch.Text); got != ch.Tokens {
			t.Errorf("%s: chunk %d Tokens %d, counted %d", doc.DocID, i, ch.Tokens, got)
		}
		if ch.Tokens > c.MaxTokens {
			t.Errorf("%s: chunk %d has %d tokens, max %d: %q", doc.DocID, i, ch.Tokens, c.MaxTokens, ch.Text)
		}
		for _, w := range strings.Fields(ch.Text) {
			words[w] = true
		}
	}
	// Every word of the document is in some chunk.
	for _, b := range doc.Blocks {
		for _, w := range strings.Fields(b.Text) {
			if CountTokens(w) > c.MaxTokens-c.OverlapTokens || c.Tokenizer != nil && c.Tokenizer.CountTokens(w) > (c.MaxTokens-c.OverlapTokens)/2 {
				continue // cut between runes; checked by TestSplitHugeWord
			}
			if !words[w] {
				t.Errorf("%s: word %q of block %q is in no chunk", doc.DocID, w, b.Text)
			}
		}
	}
	// Determinism.
	if again := c.Split(doc); !reflect.DeepEqual(again, chunks) {
		t.Errorf("%s: two splits differ", doc.DocID)
	}
}

// prose returns n words of pseudo-random sentences.
func prose(rnd *rand.Rand, n int) string {
	vocab := strings.Fields("the consumer group commits offsets after each batch is written to the vector " +
		"store and a rebalance moves partitions between members while lag grows for a moment " +
		"embedding models turn chunks into vectors that search compares with cosine similarity")
	var b strings.Builder
	for i := 0; i < n; i++ {
		w := vocab[rnd.Intn(len(vocab))]
		if i == 0 || strings.HasSuffix(b.String(), ". ") {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
		if rnd.Intn(12) == 0 || i == n-1 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

func testDocs(t *testing.T) []Document {
	rnd := rand.New(rand.NewSource(7))
	var docs []Document

	// Markdown with sections of every size.
	var md strings.Builder
	md.WriteString("# Handbook\n\n" + prose(rnd, 40) + "\n\n")
	for s := 0; s < 6; s++ {
		fmt.Fprintf(&md, "## Section %d\n\n", s)
		for p := 0; p < s*2; p++ {
			md.WriteString(prose(rnd, 10+rnd.Intn(150)) + "\n\n")
			if p%3 == 1 {
				fmt.Fprintf(&md, "### Sub %d.%d\n\n", s, p)
				md.WriteString("- " + prose(rnd, 8) + "\n- " + prose(rnd, 12) + "\n\n")
			}
		}
		if s == 3 {
			md.WriteString("```\n")
			for l := 0; l < 120; l++ {
				fmt.Fprintf(&md, "line %d: call(x, y) -> %s\n", l, prose(rnd, 3))
			}
			md.WriteString("```\n\n")
		}
	}
	md.WriteString("## Long paragraph\n\n" + prose(rnd, 2000) + "\n\n")
	md.WriteString("## No sentence ends\n\n" + strings.ReplaceAll(prose(rnd, 1500), ".", "") + "\n")
	docs = append(docs, mustLoad(t, "handbook.md", md.String()))

	// Plain text: many paragraphs, no headings.
	var txt strings.Builder
	for p := 0; p < 60; p++ {
		txt.WriteString(prose(rnd, 5+rnd.Intn(300)) + "\n\n")
	}
	docs = append(docs, mustLoad(t, "plain.txt", txt.String()))

	// A single tiny block.
	docs = append(docs, mustLoad(t, "tiny.txt", "one"))
	return docs
}

func TestSplitInvariants(t *testing.T) {
	docs := testDocs(t)
	for _, c := range []Chunker{DefaultChunker(), {MaxTokens: 64, OverlapTokens: 8}, {MaxTokens: 20, OverlapTokens: 19}, {MaxTokens: 1, OverlapTokens: 0}, {MaxTokens: 500, OverlapTokens: 0}} {
		for _, doc := range docs {
			t.Run(fmt.Sprintf("%s/%d-%d", doc.DocID, c.MaxTokens, c.OverlapTokens), func(t *testing.T) {
				checkChunks(t, c, doc, c.Split(doc))
			})
		}
	}
}

func TestSplitOverlap(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	var src strings.Builder
	src.WriteString("# Title\n\n## Only section\n\n")
	for p := 0; p < 30; p++ {
		src.WriteString(prose(rnd, 40+rnd.Intn(60)) + "\n\n")
	}
	doc := mustLoad(t, "overlap.md", src.String())
	c := Chunker{MaxTokens: 100, OverlapTokens: 20}
	chunks := c.Split(doc)
	if len(chunks) < 5 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	for i := 1; i < len(chunks); i++ {
		prev, next := chunks[i-1].Text, chunks[i].Text
		if chunks[i].Heading != chunks[i-1].Heading {
			continue
		}
		// The longest suffix of prev that starts next.
		ov := ""
		for k := 0; k < len(prev); k++ {
			if strings.HasPrefix(next, prev[k:]) && (k == 0 || prev[k-1] == ' ' || prev[k-1] == '\n') {
				ov = prev[k:]
				break
			}
		}
		tok := CountTokens(ov)
		if tok == 0 || tok > c.OverlapTokens {
			t.Errorf("chunks %d-%d: overlap %q has %d tokens, want 1..%d", i-1, i, ov, tok, c.OverlapTokens)
		}
		if tok < c.OverlapTokens/2 {
			t.Errorf("chunks %d-%d: overlap %q has only %d tokens", i-1, i, ov, tok)
		}
	}

	// No overlap at all when disabled.
	c.OverlapTokens = 0
	chunks = c.Split(doc)
	total := 0
	for _, ch := range chunks {
		total += ch.Tokens
	}
	if want := CountTokens(strings.Join(blockTexts(doc), " ")); total != want {
		t.Errorf("without overlap the chunks hold %d tokens, the document %d", total, want)
	}
}

func blockTexts(doc Document) []string {
	var out []string
	for _, b := range doc.Blocks {
		out = append(out, b.Text)
	}
	return out
}

func TestSplitSections(t *testing.T) {
	src := "# Guide\n\nIntro words.\n\n" +
		"## Install\n\nInstall words.\n\n### Linux\n\nLinux words.\n\n### macOS\n\nMac words.\n\n" +
		"## Configure\n\nConfigure words.\n\n" +
		"## Run\n\nRun words.\n"
	doc := mustLoad(t, "guide.md", src)
	chunks := DefaultChunker().Split(doc)
	want := []Chunk{
		{Index: 0, Text: "Guide\n\nIntro words.", Heading: "Guide", Tokens: 4},
		{Index: 1, Text: "Install\n\nInstall words.\n\nLinux\n\nLinux words.\n\nmacOS\n\nMac words.", Heading: "Guide > Install", Tokens: 12},
		{Index: 2, Text: "Configure\n\nConfigure words.", Heading: "Guide > Configure", Tokens: 6},
		{Index: 3, Text: "Run\n\nRun words.", Heading: "Guide > Run", Tokens: 4},
	}
	if !reflect.DeepEqual(chunks, want) {
		t.Errorf("chunks:\n got  %+v\n want %+v", chunks, want)
	}

	// Small chunks: sub-sections get their own heading path, and a heading
	// never ends a chunk.
	c := Chunker{MaxTokens: 6, OverlapTokens: 2}
	chunks = c.Split(doc)
	checkChunks(t, c, doc, chunks)
	headings := map[string]bool{}
	for _, b := range doc.Blocks {
		if b.Kind == KindHeading {
			headings[b.Text] = true
		}
	}
	var got []string
	for _, ch := range chunks {
		lines := strings.Split(ch.Text, "\n")
		if last := lines[len(lines)-1]; headings[last] {
			t.Errorf("chunk %d ends with heading %q", ch.Index, last)
		}
		got = append(got, ch.Heading)
	}
	wantHeadings := []string{"Guide", "Guide > Install", "Guide > Install > Linux", "Guide > Install > macOS", "Guide > Configure", "Guide > Run"}
	if !reflect.DeepEqual(got, wantHeadings) {
		t.Errorf("headings %q, want %q", got, wantHeadings)
	}
}

func TestSectionLevel(t *testing.T) {
	h := func(levels ...int) []Block {
		var bs []Block
		for _, l := range levels {
			bs = append(bs, Block{Kind: KindHeading, Level: l, Text: "h"})
		}
		return bs
	}
	tests := []struct {
		blocks []Block
		want   int
	}{
		{nil, 0},
		{h(1), 1},
		{h(1, 2, 2), 2},
		{h(1, 1, 2, 2), 1},
		{h(1, 2, 3, 3), 3},
		{h(2, 3), 2},
	}
	for _, tt := range tests {
		if got := sectionLevel(tt.blocks); got != tt.want {
			t.Errorf("sectionLevel(%v) = %d, want %d", tt.blocks, got, tt.want)
		}
	}
}

func TestSplitLargeBlocks(t *testing.T) {
	sentences := "First sentence is here. Second one follows! Does a third ask? Yes, e.g. this one continues. Last."
	code := "func a() {\n\treturn 1\n}\n\nfunc b() {\n\treturn 2\n}"
	doc := Document{DocID: "big", Blocks: []Block{
		{Kind: KindParagraph, Text: sentences},
		{Kind: KindCode, Text: code},
	}}
	c := Chunker{MaxTokens: 8, OverlapTokens: 0}
	chunks := c.Split(doc)
	checkChunks(t, c, doc, chunks)
	var texts []string
	for _, ch := range chunks {
		texts = append(texts, ch.Text)
	}
	want := []string{
		"First sentence is here.",
		"Second one follows!",
		"Does a third ask?",
		"Yes, e.g. this one", // 11 tokens: cut between words
		"continues. Last.",
		"func a() {\n\treturn 1\n}",
		"func b() {\n\treturn 2\n}",
	}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("chunks:\n got  %q\n want %q", texts, want)
	}
}

func TestSplitHugeWord(t *testing.T) {
	word := strings.Repeat("abcdefghij0123456789", 500) + "é分"
	doc := Document{DocID: "blob", Blocks: []Block{{Kind: KindParagraph, Text: "before " + word + " after"}}}
	for _, c := range []Chunker{{MaxTokens: 50, OverlapTokens: 0}, {MaxTokens: 50, OverlapTokens: 10}, {MaxTokens: 1, OverlapTokens: 0}} {
		chunks := c.Split(doc)
		checkChunks(t, c, doc, chunks)
		if c.OverlapTokens == 0 {
			var joined strings.Builder
			for _, ch := range chunks {
				joined.WriteString(ch.Text)
			}
			if got := strings.ReplaceAll(joined.String(), " ", ""); got != "before"+word+"after" {
				t.Errorf("max %d: pieces do not rebuild the text", c.MaxTokens)
			}
		}
	}
}

func TestSplitEdgeCases(t *testing.T) {
	if got := DefaultChunker().Split(Document{}); got != nil {
		t.Errorf("empty document: %v", got)
	}
	doc := Document{Blocks: []Block{{Kind: KindParagraph, Text: "some words here"}}}
	// Invalid settings do not panic.
	for _, c := range []Chunker{{}, {MaxTokens: -5, OverlapTokens: -1}, {MaxTokens: 3, OverlapTokens: 9}} {
		if got := c.Split(doc); len(got) == 0 {
			t.Errorf("%+v: no chunks", c)
		}
	}
}

func TestChunkerValidate(t *testing.T) {
	tests := []struct {
		c  Chunker
		ok bool
	}{
		{DefaultChunker(), true},
		{Chunker{MaxTokens: 1}, true},
		{Chunker{MaxTokens: 10, OverlapTokens: 9}, true},
		{Chunker{}, false},
		{Chunker{MaxTokens: -1}, false},
		{Chunker{MaxTokens: 10, OverlapTokens: 10}, false},
		{Chunker{MaxTokens: 10, OverlapTokens: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v", tt.c, err)
		}
	}
	if d := DefaultChunker(); d.MaxTokens != 256 || d.OverlapTokens != 32 {
		t.Errorf("defaults %+v", d)
	}
}

// benchProse returns about n bytes of prose in paragraphs.
func benchProse(n int) string {
	rnd := rand.New(rand.NewSource(42))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(prose(rnd, 20+rnd.Intn(200)))
		b.WriteString("\n\n")
	}
	return b.String()
}

// BenchmarkSplit chunks about 10 MB of plain text.
func BenchmarkSplit(b *testing.B) {
	src := benchProse(10 << 20)
	doc, err := DefaultLoader().LoadBytes(File{Path: "bench.txt"}, []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	c := DefaultChunker()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		c.Split(doc)
	}
}

// BenchmarkLoadAndSplit parses and chunks about 10 MB of plain text.
func BenchmarkLoadAndSplit(b *testing.B) {
	src := []byte(benchProse(10 << 20))
	c := DefaultChunker()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		doc, err := DefaultLoader().LoadBytes(File{Path: "bench.txt"}, src)
		if err != nil {
			b.Fatal(err)
		}
		c.Split(doc)
	}
}
