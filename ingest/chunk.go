package ingest

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default chunk sizes, in CountTokens tokens.
const (
	DefaultMaxTokens     = 256
	DefaultOverlapTokens = 32
)

// Chunk is one piece of a document's text, sized for an embedding model.
type Chunk struct {
	// Index is the chunk's position in the document, from 0, contiguous.
	Index int
	// Text is the chunk's plain text: blocks separated by a blank line
	// (list items by a newline). It does not repeat the heading path.
	Text string
	// Heading is the heading path the chunk's text is under (the common
	// part of its blocks' paths), e.g. "Install > Linux"; "" for none.
	Heading string
	// Tokens is CountTokens(Text), or with Chunker.Tokenizer set the
	// tokenizer's count, special tokens included.
	Tokens int
	// Page and PageEnd are the first and last pages (from 1) of the
	// blocks the chunk's text comes from, in paginated documents (PDF);
	// 0 elsewhere. The overlap carried from the previous chunk does not
	// count.
	Page, PageEnd int
}

// Chunker splits documents into chunks. See the package documentation for
// the strategy.
type Chunker struct {
	// MaxTokens is the most tokens (as CountTokens counts them) a chunk
	// holds. Must be positive.
	MaxTokens int
	// OverlapTokens is how many tokens of the end of a chunk are repeated
	// at the start of the next when a section continues across chunks.
	// Zero disables overlap; must be less than MaxTokens.
	OverlapTokens int
	// Tokenizer, when set, counts tokens instead of CountTokens: the
	// embedding model's own tokenizer (LoadTokenizer), so that MaxTokens is
	// the model's input limit. Chunks then hold at most MaxTokens of its
	// tokens, special tokens included, and OverlapTokens is in its tokens.
	Tokenizer Tokenizer
}

// Tokenizer counts tokens as an embedding model's tokenizer does.
type Tokenizer interface {
	// CountTokens returns how many tokens the model sees for s, special
	// tokens (such as [CLS] and [SEP]) included. It must be safe for
	// concurrent use.
	CountTokens(s string) int
}

// DefaultChunker returns a Chunker with DefaultMaxTokens and
// DefaultOverlapTokens.
func DefaultChunker() Chunker {
	return Chunker{MaxTokens: DefaultMaxTokens, OverlapTokens: DefaultOverlapTokens}
}

// Validate reports whether the settings make sense.
func (c Chunker) Validate() error {
	if c.MaxTokens <= 0 {
		return fmt.Errorf("ingest: chunker: max tokens must be positive, got %d", c.MaxTokens)
	}
	if c.OverlapTokens < 0 {
		return fmt.Errorf("ingest: chunker: overlap tokens must not be negative, got %d", c.OverlapTokens)
	}
	if c.OverlapTokens >= c.MaxTokens {
		return fmt.Errorf("ingest: chunker: overlap tokens (%d) must be less than max tokens (%d)", c.OverlapTokens, c.MaxTokens)
	}
	if c.Tokenizer != nil {
		if special := c.Tokenizer.CountTokens(""); c.MaxTokens <= special {
			return fmt.Errorf("ingest: chunker: max tokens (%d) leaves no room for text: the tokenizer adds %d special tokens", c.MaxTokens, special)
		}
	}
	return nil
}

// sanitized returns settings Split can work with whatever the fields hold:
// an invalid MaxTokens becomes the default, an invalid overlap is clamped.
func (c Chunker) sanitized() Chunker {
	if c.MaxTokens <= 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	c.OverlapTokens = min(max(c.OverlapTokens, 0), c.MaxTokens-1)
	return c
}

// Split cuts doc into chunks. It is deterministic: the same document and
// settings give the same chunks. Every chunk has at most MaxTokens tokens.
// A document without blocks gives no chunks. Settings that fail Validate
// are replaced by usable ones (see Validate) rather than causing a panic.
//
// With a Tokenizer, the chunks are packed by its counts of each piece
// (less its special tokens), which add up to about the count of their
// concatenation; each chunk is then counted whole. Should one be over
// MaxTokens (the tokenizer merged differently across a boundary), the
// document is packed again with a budget smaller by the excess, a few
// times, and a chunk still over is cut between runes: no chunk is ever
// over MaxTokens, so none needs truncating by the model.
func (c Chunker) Split(doc Document) []Chunk {
	c = c.sanitized()
	if c.Tokenizer == nil {
		return c.pack(doc, CountTokens)
	}
	exact := c.Tokenizer.CountTokens
	special := exact("")
	count := func(s string) int { return max(exact(s)-special, 0) }
	limit := c.MaxTokens
	var chunks []Chunk
	for range 4 {
		b := c
		b.MaxTokens = max(limit-special, 1)
		b.OverlapTokens = min(c.OverlapTokens, b.MaxTokens-1)
		chunks = b.pack(doc, count)
		worst := 0
		for i := range chunks {
			chunks[i].Tokens = exact(chunks[i].Text)
			worst = max(worst, chunks[i].Tokens)
		}
		if worst <= c.MaxTokens {
			return chunks
		}
		limit -= max(worst-c.MaxTokens, 1)
		if limit-special < 1 {
			break
		}
	}
	return cutOver(chunks, c.MaxTokens, exact)
}

// cutOver cuts the chunks over limit tokens (by exact) into pieces that
// fit, between runes (at least one rune each), and numbers them again.
func cutOver(chunks []Chunk, limit int, exact func(string) int) []Chunk {
	var out []Chunk
	for _, ch := range chunks {
		for ch.Tokens > limit {
			// bounds are the rune boundaries after the first rune; find the
			// last one whose prefix fits.
			var bounds []int
			for i := range ch.Text {
				if i > 0 {
					bounds = append(bounds, i)
				}
			}
			if len(bounds) == 0 {
				break // a single rune over the limit: nothing left to cut
			}
			k := sort.Search(len(bounds), func(k int) bool { return exact(ch.Text[:bounds[k]]) > limit })
			n := bounds[max(k-1, 0)]
			piece := ch
			piece.Text, piece.Tokens = ch.Text[:n], exact(ch.Text[:n])
			out = append(out, piece)
			ch.Text = ch.Text[n:]
			ch.Tokens = exact(ch.Text)
		}
		out = append(out, ch)
	}
	for i := range out {
		out[i].Index = i
	}
	return out
}

// pack runs the packer over doc's blocks with a token counter.
func (c Chunker) pack(doc Document, count func(string) int) []Chunk {
	p := packer{
		count:    count,
		max:      c.MaxTokens,
		overlap:  c.OverlapTokens,
		limit:    c.MaxTokens - c.OverlapTokens,
		boundary: sectionLevel(doc.Blocks),
	}
	var prev Kind
	for i, b := range doc.Blocks {
		sep := "\n\n"
		if i > 0 && b.Kind == KindListItem && prev == KindListItem {
			sep = "\n"
		}
		prev = b.Kind
		p.block(b, sep)
	}
	p.flush(false)
	return p.out
}

// sectionLevel returns the heading level that starts a new section: the
// shallowest level used by two headings or more, or else the shallowest
// level used at all (so a document with one H1 title and several H2s is cut
// at the H2s). 0 means the document has no headings.
func sectionLevel(blocks []Block) int {
	var count [7]int
	for _, b := range blocks {
		if b.Kind == KindHeading && b.Level >= 1 && b.Level <= 6 {
			count[b.Level]++
		}
	}
	first := 0
	for l := 1; l <= 6; l++ {
		if count[l] >= 2 {
			return l
		}
		if count[l] == 1 && first == 0 {
			first = l
		}
	}
	return first
}

// unit is a piece of text the packer places whole: a block, or, for a
// block over the limit, a sentence, a line, a run of words or a piece of
// a word.
type unit struct {
	text    string
	tokens  int
	sep     string // joins text to the unit before it in the same chunk
	heading string
	level   int // heading level for a heading block, else 0
	page    int // Block.Page
}

// packer fills chunks with units greedily.
type packer struct {
	count        func(string) int // CountTokens, or a tokenizer's count
	max, overlap int
	limit        int // the most tokens in a unit cut from a big block
	boundary     int // headings at this level or above start a section

	cur       []unit
	curTokens int    // tokens of carry and cur
	carry     string // tail of the previous chunk, repeated at the start
	carryTok  int
	index     int
	out       []Chunk
	sb        strings.Builder
	lastCut   int // length of the last piece hardSplit cut
	page      int // page of the block being cut into units
}

// block feeds one block to the packer, cut into units when it is too big.
func (p *packer) block(b Block, sep string) {
	p.page = b.Page
	tokens := p.count(b.Text)
	// A block is placed whole when it fits in the current chunk, or in a
	// new one after the overlap. Otherwise it is cut, so that the current
	// chunk is filled and the next one starts with the full overlap.
	if tokens <= p.limit || p.curTokens+tokens <= p.max {
		p.add(unit{text: b.Text, tokens: tokens, sep: sep, heading: b.Heading, level: headingLevelOf(b), page: b.Page})
		return
	}
	// Cut prose at sentence ends, code and tables at line ends; cut a
	// segment still over the limit between words, and a word over the
	// limit anywhere (between runes).
	byLine := b.Kind == KindCode || b.Kind == KindTable
	segments(b.Text, byLine, func(seg, segSep string) {
		if segSep == "" {
			segSep = sep
		}
		t := p.count(seg)
		if t <= p.limit {
			p.add(unit{text: seg, tokens: t, sep: segSep, heading: b.Heading})
			return
		}
		p.words(seg, segSep, b.Heading)
	})
}

// words feeds s, which is over the limit, as runs of whole words of at
// most limit tokens each.
func (p *packer) words(s, sep, heading string) {
	start, tokens := -1, 0 // current run
	runSep := sep
	emit := func(end int) {
		if start >= 0 {
			p.add(unit{text: s[start:end], tokens: tokens, sep: runSep, heading: heading})
			start, tokens = -1, 0
		}
	}
	last := 0 // end of the previous word
	for i := 0; i < len(s); {
		// Skip whitespace to the next word.
		j := i
		for j < len(s) && isSpaceAt(s, j) {
			_, size := utf8.DecodeRuneInString(s[j:])
			j += size
		}
		if j == len(s) {
			break
		}
		k := j
		for k < len(s) && !isSpaceAt(s, k) {
			_, size := utf8.DecodeRuneInString(s[k:])
			k += size
		}
		word := s[j:k]
		wt := p.count(word)
		gap := s[last:j]
		if last == 0 {
			gap = sep
		}
		switch {
		case wt > p.limit:
			emit(last)
			p.hardSplit(word, gap, heading)
		case start >= 0 && tokens+wt <= p.limit:
			tokens += wt
		default:
			emit(last)
			start, tokens, runSep = j, wt, gap
		}
		last, i = k, k
	}
	emit(last)
}

// maxBytesPerToken bounds how many bytes CountTokens charges one token
// for, in text without control characters (which cost nothing): a token
// covers at most 7 letter units of at most 3 bytes each (an ASCII letter is
// 1 byte per unit, another letter 2 units of up to 4 bytes, an apostrophe
// U+2019 1 unit of 3 bytes), 3 digits, 2 punctuation marks or one
// ideograph, of at most 4 bytes each. hardSplit uses it only to avoid
// counting a long word in full; its search does not depend on it.
const maxBytesPerToken = lettersPerToken * utf8.UTFMax

// hardSplit feeds a single word over the limit in pieces of at most limit
// tokens, cut between runes. The pieces join with no separator.
func (p *packer) hardSplit(word, sep, heading string) {
	fits := func(n int) bool { return p.count(word[:n]) <= p.limit }
	// runeStart moves n back to the start of the rune it falls in.
	runeStart := func(n int) int {
		for n > 0 && n < len(word) && !utf8.RuneStart(word[n]) {
			n--
		}
		return n
	}
	for word != "" {
		if len(word) <= (p.limit+1)*maxBytesPerToken {
			if t := p.count(word); t <= p.limit {
				p.add(unit{text: word, tokens: t, sep: sep, heading: heading})
				return
			}
		}
		// The longest prefix within the limit, cut at a rune boundary:
		// counts only grow with the prefix, so search, starting from the
		// previous piece's length (pieces of one word are alike), with
		// steps that double, then by bisection. Invariant: fits(lo), and
		// hi == len(word) or !fits(hi); both are rune boundaries.
		lo, hi := 0, len(word)
		g := runeStart(min(max(p.lastCut, 1), len(word)-1))
		if g > 0 && fits(g) {
			lo = g
			for step := 16; ; step *= 2 {
				n := runeStart(min(lo+step, len(word)))
				if n <= lo || n >= hi {
					break
				}
				if !fits(n) {
					hi = n
					break
				}
				lo = n
			}
		} else if g > 0 {
			hi = g
			for step := 16; ; step *= 2 {
				n := runeStart(max(hi-step, 0))
				if n <= 0 {
					break
				}
				if fits(n) {
					lo = n
					break
				}
				hi = n
			}
		}
		for {
			mid := runeStart((lo + hi) / 2)
			if mid <= lo {
				_, size := utf8.DecodeRuneInString(word[lo:])
				mid = lo + size
			}
			if mid >= hi {
				break
			}
			if fits(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		if lo == 0 {
			_, lo = utf8.DecodeRuneInString(word) // one rune always fits
		}
		piece := word[:lo]
		p.add(unit{text: piece, tokens: p.count(piece), sep: sep, heading: heading})
		p.lastCut = lo
		word, sep = word[lo:], ""
	}
}

// add places u in the current chunk, first closing the chunk when u starts
// a section or does not fit.
func (p *packer) add(u unit) {
	if u.page == 0 {
		u.page = p.page
	}
	if u.level > 0 && u.level <= p.boundary && len(p.cur) > 0 {
		p.flush(false) // a new section: no overlap across sections
	}
	if len(p.cur) > 0 && p.curTokens+u.tokens > p.max {
		// Do not leave headings at the end of a chunk: they belong with
		// the text that follows them.
		k := len(p.cur)
		for k > 0 && p.cur[k-1].level > 0 {
			k--
		}
		var moved []unit
		if k > 0 && k < len(p.cur) {
			moved = append(moved, p.cur[k:]...)
			for _, m := range moved {
				p.curTokens -= m.tokens
			}
			p.cur = p.cur[:k]
		}
		p.flush(moved == nil)
		for _, m := range moved {
			p.cur = append(p.cur, m)
			p.curTokens += m.tokens
		}
		if len(p.cur) > 0 && p.curTokens+u.tokens > p.max {
			p.flush(false)
		}
	}
	if len(p.cur) == 0 && p.carryTok+u.tokens > p.max {
		p.carry = p.tail(p.carry, p.max-u.tokens)
		p.carryTok = p.count(p.carry)
		p.curTokens = p.carryTok
	}
	p.cur = append(p.cur, u)
	p.curTokens += u.tokens
}

// flush closes the current chunk, if it has units. With overlap, the tail
// of its text is carried to the start of the next chunk.
func (p *packer) flush(overlap bool) {
	if len(p.cur) == 0 {
		p.carry, p.carryTok, p.curTokens = "", 0, 0
		return
	}
	n := len(p.carry)
	for i, u := range p.cur {
		if i > 0 || p.carry != "" {
			n += len(u.sep)
		}
		n += len(u.text)
	}
	p.sb.Reset()
	p.sb.Grow(n)
	p.sb.WriteString(p.carry)
	heading := p.cur[0].heading
	first, last := 0, 0
	for _, u := range p.cur {
		if u.page > 0 {
			if first == 0 || u.page < first {
				first = u.page
			}
			last = max(last, u.page)
		}
	}
	glued := false // some unit joins the text before it without whitespace
	for i, u := range p.cur {
		if i > 0 || p.carry != "" {
			p.sb.WriteString(u.sep)
			glued = glued || u.sep == ""
		}
		p.sb.WriteString(u.text)
		heading = commonHeading(heading, u.heading)
	}
	text := p.sb.String()
	tokens := p.curTokens
	if glued {
		// Pieces of one word joined with no space: counting them apart
		// may have overestimated.
		tokens = p.count(text)
	}
	p.out = append(p.out, Chunk{Index: p.index, Text: text, Heading: heading, Tokens: tokens, Page: first, PageEnd: last})
	p.index++
	p.cur = p.cur[:0]
	p.carry, p.carryTok = "", 0
	if overlap && p.overlap > 0 {
		p.carry = p.tail(text, p.overlap)
		p.carryTok = p.count(p.carry)
	}
	p.curTokens = p.carryTok
}

// tail returns the longest suffix of s made of whole words (cut at
// whitespace) with at most n tokens; "" when n <= 0 or the last word alone
// is over n.
func (p *packer) tail(s string, n int) string {
	if n <= 0 {
		return ""
	}
	start, tokens := len(s), 0
	end := len(s)
	for end > 0 {
		// Skip whitespace backwards.
		for end > 0 && isSpaceBefore(s, end) {
			_, size := utf8.DecodeLastRuneInString(s[:end])
			end -= size
		}
		if end == 0 {
			break
		}
		b := end
		for b > 0 && !isSpaceBefore(s, b) {
			_, size := utf8.DecodeLastRuneInString(s[:b])
			b -= size
		}
		tokens += p.count(s[b:end])
		if tokens > n {
			break
		}
		start, end = b, b
	}
	return s[start:]
}

// segments calls fn for each sentence (or each line, with byLine) of s,
// trimmed, with the whitespace that preceded it in s ("" for the first).
func segments(s string, byLine bool, fn func(seg, sep string)) {
	prevEnd := -1 // end of the previous segment
	emit := func(start, end int) {
		seg := strings.TrimRightFunc(s[start:end], unicode.IsSpace)
		if seg == "" {
			return
		}
		sep := ""
		if prevEnd >= 0 {
			sep = s[prevEnd:start]
		}
		fn(seg, sep)
		prevEnd = start + len(seg)
	}
	start := skipSpace(s, 0)
	for i := start; i < len(s); i++ {
		c := s[i]
		if byLine {
			if c == '\n' {
				emit(start, i)
				start = skipSpace(s, i+1)
				i = start - 1
			}
			continue
		}
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		// A sentence ends at . ! or ?, then maybe closing quotes or
		// brackets, then whitespace, then anything but a lower-case letter
		// (so "e.g. the" does not end one).
		j := i + 1
		for j < len(s) && (s[j] == '"' || s[j] == '\'' || s[j] == ')' || s[j] == ']') {
			j++
		}
		if j >= len(s) || !isSpaceAt(s, j) {
			continue
		}
		k := skipSpace(s, j)
		if k < len(s) {
			r, _ := utf8.DecodeRuneInString(s[k:])
			if unicode.IsLower(r) {
				continue
			}
		}
		emit(start, j)
		start = k
		i = k - 1
	}
	if start < len(s) {
		emit(start, len(s))
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpaceAt(s, i) {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// isSpaceAt reports whether the rune at s[i] is whitespace.
func isSpaceAt(s string, i int) bool {
	if c := s[i]; c < utf8.RuneSelf {
		return c == ' ' || (c >= '\t' && c <= '\r')
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}

// isSpaceBefore reports whether the rune ending at s[:i] is whitespace.
func isSpaceBefore(s string, i int) bool {
	if c := s[i-1]; c < utf8.RuneSelf {
		return c == ' ' || (c >= '\t' && c <= '\r')
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsSpace(r)
}

func headingLevelOf(b Block) int {
	if b.Kind == KindHeading {
		return max(b.Level, 1)
	}
	return 0
}

// commonHeading returns the longest common prefix of two heading paths,
// by whole titles.
func commonHeading(a, b string) string {
	if a == b {
		return a
	}
	pa, pb := strings.Split(a, HeadingSep), strings.Split(b, HeadingSep)
	n := 0
	for n < len(pa) && n < len(pb) && pa[n] == pb[n] {
		n++
	}
	return strings.Join(pa[:n], HeadingSep)
}
