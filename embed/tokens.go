package embed

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/ragpipe/ragpipe/fault"
)

// ErrInputTooLong is wrapped by the (fault.RecordAt) error an embedder
// returns, without contacting its server, for an input whose estimated
// token count is over its limit (Config.MaxInputTokens, TEIConfig's limit).
var ErrInputTooLong = errors.New("embed: input too long")

// estimateTokens estimates how many tokens a BPE or WordPiece tokenizer (the
// kind embedding models use) produces for s, not counting special tokens
// such as [CLS] and [SEP].
//
// It counts one token for each word (a run of letters, digits, combining
// marks and underscores; an apostrophe between two of them belongs to the
// word: "don't"), one for each run of other non-space characters
// (punctuation and symbols: "(", "...", "->"), and one for each CJK
// ideograph, kana or hangul syllable. Whitespace and control characters
// count nothing.
//
// This approximates real counts from below: such tokenizers split text at
// whitespace and punctuation before they merge sub-words, so every word and
// every punctuation run costs at least one token, while long or rare words,
// numbers and most non-English text cost several. It is therefore suited to
// rejecting inputs that are certainly too long before any round trip, and
// leaves borderline ones to the server, whose own refusal is classified as
// usual. By construction it never exceeds ingest.CountTokens (which charges
// at least one token for each unit counted here), so a chunk that the
// chunker sized to at most N tokens passes a limit of N.
func estimateTokens(s string) int {
	n := 0
	inWord, inPunct := false, false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch tokenClass(r) {
		case tokSpace:
			inWord, inPunct = false, false
		case tokIdeo:
			n++
			inWord, inPunct = false, false
		case tokWord:
			if !inWord {
				n++
			}
			inWord, inPunct = true, false
		default:
			if inWord && (r == '\'' || r == '\u2019') && i+size < len(s) {
				// An apostrophe followed by a word character continues the
				// word.
				next, _ := utf8.DecodeRuneInString(s[i+size:])
				if tokenClass(next) == tokWord {
					break
				}
			}
			if !inPunct {
				n++
			}
			inWord, inPunct = false, true
		}
		i += size
	}
	return n
}

const (
	tokSpace = iota
	tokWord
	tokPunct
	tokIdeo
)

func tokenClass(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return tokWord
		case r <= ' ' || r == 0x7f:
			return tokSpace
		default:
			return tokPunct
		}
	case unicode.IsSpace(r) || r == utf8.RuneError || unicode.IsControl(r):
		return tokSpace
	case r >= 0x1100 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
		return tokIdeo
	case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
		return tokWord
	default:
		return tokPunct
	}
}

// checkTokenLimit returns a fault.RecordAt error wrapping ErrInputTooLong
// for the first input whose estimated token count is over limit, or nil.
// A limit ≤ 0 means none.
func checkTokenLimit(inputs []string, limit int) error {
	if limit <= 0 {
		return nil
	}
	for i, in := range inputs {
		// An input of at most limit bytes cannot hold more than limit
		// tokens: skip the scan.
		if len(in) <= limit {
			continue
		}
		if n := estimateTokens(in); n > limit {
			return fault.RecordAt(i, fmt.Errorf("%w: input %d has ~%d tokens, over the limit of %d", ErrInputTooLong, i, n, limit))
		}
	}
	return nil
}
