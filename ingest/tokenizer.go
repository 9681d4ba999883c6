package ingest

import (
	"fmt"
	"os"
	"sync"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// maxTokenizerFile bounds the tokenizer.json LoadTokenizer reads (large
// multilingual vocabularies are around 20 MB).
const maxTokenizerFile = 256 << 20

// HFTokenizer is a Hugging Face tokenizer (a tokenizer.json, as shipped
// with a model), read with github.com/sugarme/tokenizer: a pure-Go port of
// the Hugging Face tokenizers library (WordPiece, BPE, byte-level BPE,
// Unigram and WordLevel models with their normalizers, pre-tokenizers and
// post-processors). The Rust library's Go bindings need cgo and a Rust
// toolchain, which this project avoids. It implements Tokenizer.
type HFTokenizer struct {
	path string
	mu   sync.Mutex // the library's tokenizer is not documented as safe for concurrent use
	tk   *tokenizer.Tokenizer
}

// LoadTokenizer reads a tokenizer.json.
func LoadTokenizer(path string) (*HFTokenizer, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: tokenizer: %w", err)
	}
	if info.Size() > maxTokenizerFile {
		return nil, fmt.Errorf("ingest: tokenizer %s: %d bytes is over the limit of %s", path, info.Size(), humanBytes(maxTokenizerFile))
	}
	tk, err := loadHF(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: tokenizer %s: not a Hugging Face tokenizer.json the library can read: %w", path, err)
	}
	t := &HFTokenizer{path: path, tk: tk}
	if _, err := t.encode("ragpipe tokenizer check"); err != nil {
		return nil, fmt.Errorf("ingest: tokenizer %s: %w", path, err)
	}
	return t, nil
}

// loadHF turns the library's panics on malformed files into errors.
func loadHF(path string) (tk *tokenizer.Tokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			tk, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return pretrained.FromFile(path)
}

func (t *HFTokenizer) encode(s string) (n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("encoding failed: %v", r)
		}
	}()
	en, err := t.tk.EncodeSingle(s, true)
	if err != nil {
		return 0, err
	}
	return len(en.Ids), nil
}

// CountTokens returns the number of token IDs the tokenizer gives s,
// special tokens included. Should the tokenizer fail on s (it did not on
// any input tried), the heuristic CountTokens(s) plus one token per 4
// bytes is returned instead, an overestimate that keeps chunks within
// the limit.
func (t *HFTokenizer) CountTokens(s string) int {
	n, err := t.encode(s)
	if err != nil {
		return CountTokens(s) + len(s)/4 + 2
	}
	return n
}

// String names the tokenizer file.
func (t *HFTokenizer) String() string { return t.path }
