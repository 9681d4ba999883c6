package ingest

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/wordpiece-tokenizer.json is a small BERT-style tokenizer made
// for these tests: a WordPiece vocabulary of about 140 words, sub-words
// and letters, a lower-casing normalizer and [CLS]/[SEP] around each
// input.
func testTokenizer(t testing.TB) *HFTokenizer {
	t.Helper()
	tk, err := LoadTokenizer("testdata/wordpiece-tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestHFTokenizer(t *testing.T) {
	tk := testTokenizer(t)
	for s, want := range map[string]int{
		"":                          2, // [CLS] [SEP]
		"the chunks of a document":  7,
		"Kafka partitions, offsets": 6,
		"zzz":                       5, // z ##z ##z
	} {
		if got := tk.CountTokens(s); got != want {
			t.Errorf("CountTokens(%q) = %d, want %d", s, got, want)
		}
	}
	if tk.String() != "testdata/wordpiece-tokenizer.json" {
		t.Errorf("String() = %q", tk)
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokenizer.json")
	os.WriteFile(bad, []byte(`{"model": {"type": "Nonsense"}}`), 0o644)
	notJSON := filepath.Join(dir, "x.json")
	os.WriteFile(notJSON, []byte("not json"), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing.json"), bad, notJSON} {
		if _, err := LoadTokenizer(p); err == nil || !strings.Contains(err.Error(), "tokenizer") {
			t.Errorf("%s: err = %v", p, err)
		}
	}
}

// With a real tokenizer, no chunk is over MaxTokens of its tokens, and
// every chunk's Tokens is the tokenizer's count of its text.
func TestSplitWithTokenizer(t *testing.T) {
	tk := testTokenizer(t)
	rnd := rand.New(rand.NewSource(5))
	doc := Document{DocID: "d"}
	for i := range 30 {
		if i%7 == 0 {
			doc.Blocks = append(doc.Blocks, Block{Kind: KindHeading, Text: "Section of the document", Level: 2})
		}
		doc.Blocks = append(doc.Blocks, Block{Kind: KindParagraph, Text: prose(rnd, 10+rnd.Intn(80))})
	}
	doc.Blocks = append(doc.Blocks, Block{Kind: KindParagraph, Text: strings.Repeat("qzx", 200)}) // one huge word
	for _, c := range []Chunker{
		{MaxTokens: 64, OverlapTokens: 8, Tokenizer: tk},
		{MaxTokens: 20, OverlapTokens: 4, Tokenizer: tk},
	} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		chunks := c.Split(doc)
		checkChunks(t, c, doc, chunks)
		heuristic := Chunker{MaxTokens: c.MaxTokens, OverlapTokens: c.OverlapTokens}.Split(doc)
		t.Logf("max %d: %d chunks with the tokenizer, %d with the heuristic", c.MaxTokens, len(chunks), len(heuristic))
	}
	if err := (Chunker{MaxTokens: 2, Tokenizer: tk}).Validate(); err == nil || !strings.Contains(err.Error(), "special tokens") {
		t.Errorf("no room for text: %v", err)
	}
}

// superlinear counts more for a text than for its pieces together, so
// packing by the pieces' counts overshoots: Split must still keep every
// chunk within MaxTokens.
type superlinear struct{}

func (superlinear) CountTokens(s string) int { return 1 + len(s)*len(s)/400 }

type separators struct{}

// CountTokens charges 6 tokens for each blank line, which the pieces
// packed apart never show.
func (separators) CountTokens(s string) int {
	return len(strings.Fields(s)) + 6*strings.Count(s, "\n\n") + 1
}

func TestSplitNonAdditiveTokenizer(t *testing.T) {
	rnd := rand.New(rand.NewSource(9))
	doc := Document{DocID: "n"}
	for range 20 {
		doc.Blocks = append(doc.Blocks, Block{Kind: KindParagraph, Text: prose(rnd, 5+rnd.Intn(40))})
	}
	for _, tk := range []Tokenizer{superlinear{}, separators{}} {
		c := Chunker{MaxTokens: 40, OverlapTokens: 4, Tokenizer: tk}
		chunks := c.Split(doc)
		for i, ch := range chunks {
			if ch.Index != i || ch.Tokens != tk.CountTokens(ch.Text) || ch.Tokens > c.MaxTokens || ch.Text == "" {
				t.Fatalf("%T: chunk %d: %d tokens, %q", tk, i, ch.Tokens, ch.Text)
			}
		}
		var all strings.Builder
		for _, ch := range chunks {
			all.WriteString(ch.Text)
		}
		for _, b := range doc.Blocks {
			for _, w := range strings.Fields(b.Text) {
				if !strings.Contains(all.String(), w) {
					t.Fatalf("%T: word %q lost", tk, w)
				}
			}
		}
	}
}

// BenchmarkSplitTokenizer chunks about 1 MB of prose counting with the
// test tokenizer.
func BenchmarkSplitTokenizer(b *testing.B) {
	src := benchProse(1 << 20)
	doc, err := DefaultLoader().LoadBytes(File{Path: "bench.txt"}, []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	c := DefaultChunker()
	c.Tokenizer = testTokenizer(b)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		c.Split(doc)
	}
}
