package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// PDF bounds: a page tree may not hold more pages, nor take more steps to
// walk (a tree whose kids loop back would never end).
const (
	maxPDFPages = 20000
	maxPDFNodes = 4 * maxPDFPages
	// maxPDFPageContent: a page whose content streams are larger is
	// skipped (and listed in the metadata as "pages_skipped"): such pages
	// are drawings, and the reader keeps a value for every glyph.
	maxPDFPageContent = 8 << 20
)

// pdfInfo maps the keys of a PDF's document information dictionary to
// metadata keys.
var pdfInfo = []struct{ key, meta string }{
	{"Title", "title"}, {"Author", "author"}, {"Subject", "subject"},
	{"Keywords", "keywords"}, {"Creator", "creator"}, {"Producer", "producer"},
	{"CreationDate", "created"}, {"ModDate", "modified"},
}

// parsePDF extracts the text of a PDF with github.com/ledongthuc/pdf (see
// the package documentation for the choice), page by page, in reading
// order (see pdfLayout), with each block's page number. The checks come
// first, so that each kind of bad file gets its own clear error: no
// "%PDF-" header, no "%%EOF" near the end (a truncated file), an
// encrypted file that needs a password, a damaged cross-reference table
// or page tree, page content that expands past lim.expanded, a page the
// reader cannot interpret. The document information dictionary gives the
// metadata, plus "pages".
func parsePDF(src []byte, lim limits) (parsed, error) {
	start := bytes.Index(src[:min(len(src), 1024)], []byte("%PDF-"))
	if start < 0 {
		return parsed{}, fmt.Errorf("%w: not a PDF: no %%PDF- header in the first KiB", ErrCorrupt)
	}
	src = src[start:]
	tail := src[max(0, len(src)-2048):]
	eof := bytes.LastIndex(tail, []byte("%%EOF"))
	if eof < 0 {
		return parsed{}, fmt.Errorf("%w: truncated PDF: no %%%%EOF marker at the end (%d bytes; the file was cut short?)", ErrCorrupt, len(src))
	}
	src = src[:len(src)-len(tail)+eof+len("%%EOF")] // drop what follows the marker
	r, err := openPDF(src)
	if err != nil {
		return parsed{}, err
	}
	var p parsed
	var pages []pdf.Page
	err = pdfGuard("reading the document structure", func() error {
		info := r.Trailer().Key("Info")
		for _, k := range pdfInfo {
			v := info.Key(k.key).Text()
			if strings.HasSuffix(k.key, "Date") {
				v = pdfDate(v)
			}
			setMeta(&p.meta, k.meta, v)
		}
		var err error
		pages, err = pdfPages(r.Trailer().Key("Root").Key("Pages"))
		return err
	})
	if err != nil {
		return parsed{}, err
	}
	setMeta(&p.meta, "pages", strconv.Itoa(len(pages)))
	encrypted := false
	_ = pdfGuard("", func() error { encrypted = r.Trailer().Key("Encrypt").Kind() != pdf.Null; return nil })
	var budget int64 = lim.expanded
	var lines []pdfLine
	var skipped []string
	for i, pg := range pages {
		n := i + 1
		err := pdfGuard(fmt.Sprintf("page %d", n), func() error {
			size, err := pdfContentSize(pg.V.Key("Contents"), budget)
			if err != nil {
				return err
			}
			budget -= size
			if size > lim.pdfPage {
				// Vector graphics, not text; interpreting it would keep
				// a value per drawing operation.
				skipped = append(skipped, strconv.Itoa(n))
				return nil
			}
			gs, used, err := pageGlyphs(pg, budget)
			budget -= used
			if err != nil {
				return err
			}
			lines = append(lines, pageLines(gs, n)...)
			return nil
		})
		if err != nil {
			if encrypted && errors.Is(err, ErrCorrupt) {
				// The empty password opened it, but the content does not
				// decrypt.
				return parsed{}, fmt.Errorf("%w: the PDF is encrypted and its content could not be decrypted (%v)", ErrEncrypted, err)
			}
			return parsed{}, err
		}
	}
	if len(skipped) > 0 {
		setMeta(&p.meta, "pages_skipped", strings.Join(skipped, ","))
	}
	p.blocks = pdfLayout(lines)
	p.title = p.meta["title"]
	if p.title == "" {
		for _, b := range p.blocks {
			if b.Kind == KindHeading && b.Level == 1 {
				p.title = b.Text
				break
			}
		}
	}
	return p, nil
}

// openPDF opens the cross-reference table and, for an encrypted file, the
// security handler with the empty user password (files that open without
// a password are read).
func openPDF(src []byte) (*pdf.Reader, error) {
	r, err := pdf.NewReader(pdfHeader{src}, int64(len(src)))
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, pdf.ErrInvalidPassword):
		return nil, fmt.Errorf("%w: the PDF is encrypted and needs a password to open", ErrEncrypted)
	case strings.Contains(strings.ToLower(err.Error()), "encrypt"):
		return nil, fmt.Errorf("%w: the PDF is encrypted in a way that cannot be read: %v", ErrEncrypted, err)
	case strings.Contains(err.Error(), "%%EOF"), strings.Contains(err.Error(), "startxref"):
		return nil, fmt.Errorf("%w: truncated or damaged PDF: %v", ErrCorrupt, err)
	}
	return nil, fmt.Errorf("%w: damaged PDF: %v", ErrCorrupt, err)
}

// pdfHeader presents a PDF's first line as "%PDF-1.7" followed by a line
// end, which the reader insists on (it refuses PDF 2.0 and a header
// followed by a space); the rest is unchanged, so offsets stay valid.
type pdfHeader struct{ src []byte }

const pdfHeaderLine = "%PDF-1.7\n"

func (h pdfHeader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(h.src)) {
		return 0, io.EOF
	}
	n := copy(p, h.src[off:])
	if off < int64(len(pdfHeaderLine)) && len(h.src) > len(pdfHeaderLine) && !validPDFHeader(h.src) {
		copy(p[:n], pdfHeaderLine[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func validPDFHeader(b []byte) bool {
	return len(b) > 8 && bytes.HasPrefix(b, []byte("%PDF-1.")) && b[7] >= '0' && b[7] <= '7' && (b[8] == '\r' || b[8] == '\n')
}

// pdfGuard runs fn, turning the reader's panics (its way of reporting a
// malformed file) into ErrCorrupt errors that say where.
func pdfGuard(where string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: damaged PDF: %s: %v", ErrCorrupt, where, r)
		}
	}()
	return fn()
}

// pdfPages walks the page tree depth first, without trusting its counts.
func pdfPages(root pdf.Value) ([]pdf.Page, error) {
	var pages []pdf.Page
	stack := []pdf.Value{root}
	for nodes := 0; len(stack) > 0; nodes++ {
		if nodes > maxPDFNodes || len(pages) > maxPDFPages {
			return nil, fmt.Errorf("%w: the page tree has more than %d pages or loops", ErrCorrupt, maxPDFPages)
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v.Kind() != pdf.Dict {
			continue
		}
		kids := v.Key("Kids")
		switch typ := v.Key("Type").Name(); {
		case typ == "Pages" || (typ == "" && kids.Kind() == pdf.Array):
			for i := kids.Len() - 1; i >= 0; i-- {
				stack = append(stack, kids.Index(i))
			}
		default:
			pages = append(pages, pdf.Page{V: v})
		}
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("%w: the PDF has no pages", ErrCorrupt)
	}
	return pages, nil
}

// pdfContentSize decompresses a page's content streams to count their
// bytes, failing with ErrExpansion past limit, before the reader
// interprets them (and keeps one value per glyph).
func pdfContentSize(contents pdf.Value, limit int64) (int64, error) {
	var streams []pdf.Value
	switch contents.Kind() {
	case pdf.Stream:
		streams = []pdf.Value{contents}
	case pdf.Array:
		for i := 0; i < contents.Len() && i < 10000; i++ {
			streams = append(streams, contents.Index(i))
		}
	}
	var total int64
	for _, s := range streams {
		if s.Kind() != pdf.Stream {
			continue
		}
		rc := s.Reader()
		n, err := io.Copy(io.Discard, io.LimitReader(rc, limit-total+1))
		rc.Close()
		total += n
		if total > limit {
			return total, fmt.Errorf("%w: page content expands past the limit of %d bytes (%s)", ErrExpansion, limit, humanBytes(limit))
		}
		if err != nil {
			return total, fmt.Errorf("%w: damaged page content stream: %v", ErrCorrupt, err)
		}
	}
	return total, nil
}

// pdfDate turns a PDF date ("D:20240131154500+01'00'") into RFC 3339, or
// returns it unchanged when it is not one.
func pdfDate(s string) string {
	d := strings.TrimPrefix(strings.TrimSpace(s), "D:")
	if len(d) < 4 {
		return s
	}
	digits := d
	zone := ""
	if i := strings.IndexAny(d, "Zz+-"); i >= 0 {
		digits, zone = d[:i], d[i:]
	}
	if len(digits) < 4 || len(digits) > 14 || len(digits)%2 != 0 || strings.Trim(digits, "0123456789") != "" {
		return s
	}
	digits += "0101000000"[len(digits)-4:]
	t, err := time.Parse("20060102150405", digits)
	if err != nil {
		return s
	}
	if zone != "" && (zone[0] == '+' || zone[0] == '-') {
		z := strings.ReplaceAll(zone[1:], "'", "")
		if len(z) >= 2 {
			h, _ := strconv.Atoi(z[:2])
			m := 0
			if len(z) >= 4 {
				m, _ = strconv.Atoi(z[2:4])
			}
			off := (h*60 + m) * 60
			if zone[0] == '-' {
				off = -off
			}
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off))
		}
	}
	return t.Format(time.RFC3339)
}

// glyph is one positioned piece of text on a page.
type glyph struct {
	x, y, w, size float64
	s             string
	mono          bool
}

// pdfLine is a line of text on a page: glyphs on one baseline, left to
// right.
type pdfLine struct {
	page  int
	y     float64 // baseline, from the bottom of the page
	size  float64 // the largest font size on the line
	text  string
	cells bool // wide gaps split the line into table cells (" | ")
}

// pageLines groups a page's glyphs into lines, top to bottom, each left
// to right, with a space where the gap between two glyphs is wider than
// a letter spacing, and " | " where it is a column gap. Positions are in
// the glyphs' own units; a font without widths gets widths estimated from
// its size. A two-column page is read column by column (columnOrder).
func pageLines(glyphs []glyph, page int) []pdfLine {
	gs := glyphs[:0]
	for _, g := range glyphs {
		if g.s == "" || g.s == "\n" || !finite(g.x) || !finite(g.y) {
			continue
		}
		g.size = math.Abs(g.size)
		if !finite(g.size) || g.size < 0.5 {
			g.size = 1
		}
		if !finite(g.w) || g.w < 0 {
			g.w = 0
		}
		gs = append(gs, g)
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].y > gs[j].y })
	var raws []glyphLine
	for i := 0; i < len(gs); {
		top, size := gs[i].y, gs[i].size
		j := i + 1
		for j < len(gs) && top-gs[j].y <= 0.45*max(size, gs[j].size) {
			size = max(size, gs[j].size)
			j++
		}
		line := gs[i:j]
		sort.SliceStable(line, func(a, b int) bool { return line[a].x < line[b].x })
		raws = append(raws, glyphLine{gs: line, y: top})
		i = j
	}
	var lines []pdfLine
	for _, r := range columnOrder(raws) {
		if l, ok := lineText(r.gs); ok {
			l.page, l.y = page, r.y
			lines = append(lines, l)
		}
	}
	return lines
}

// glyphLine is the glyphs of one baseline, left to right.
type glyphLine struct {
	gs []glyph
	y  float64
}

// glyphWidth is a glyph's width, estimated from its size when the font
// gives none.
func glyphWidth(g glyph) float64 {
	if g.w > 0 {
		return g.w
	}
	per := 0.5
	if g.mono {
		per = 0.6
	}
	return per * g.size * float64(utf8.RuneCountInString(g.s))
}

// wideGaps returns where a line's glyphs leave a gap wider than a column
// gap (as lineText judges it): the index of the glyph after each gap and
// the gap's extent. In a font without widths, where each run of text
// starts is all that is known, and every new run counts as a gap that ends
// where it starts.
func wideGaps(gs []glyph) (cuts []int, gaps [][2]float64) {
	if len(gs) == 0 {
		return nil, nil
	}
	end := gs[0].x + glyphWidth(gs[0])
	for i := 1; i < len(gs); i++ {
		g, prev := gs[i], gs[i-1]
		if g.x == prev.x && prev.w == 0 {
			end += glyphWidth(g)
			continue
		}
		if prev.w == 0 {
			if g.x > prev.x {
				cuts = append(cuts, i)
				gaps = append(gaps, [2]float64{min(end, g.x-0.5*g.size), g.x})
			}
			end = max(end, g.x+glyphWidth(g))
			continue
		}
		if g.x-end > 1.8*g.size {
			cuts = append(cuts, i)
			gaps = append(gaps, [2]float64{end, g.x})
		}
		end = max(end, g.x+glyphWidth(g))
	}
	return cuts, gaps
}

// columnOrder puts the lines of a two-column page in reading order: the
// left column, then the right, between the lines that span both (a title
// across the page). Two columns are found when a vertical gutter, near the
// middle of the text, runs through the wide gaps of at least 5 lines and
// of most lines that have text on both sides, and the text on each side
// is prose (20 characters or more per line on average, which table cells
// rarely are). Otherwise the lines stay as they are, top to bottom.
func columnOrder(raws []glyphLine) []glyphLine {
	if len(raws) > 5000 {
		return raws
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	type lineGaps struct {
		cuts []int
		gaps [][2]float64
	}
	lg := make([]lineGaps, len(raws))
	seen := map[float64]bool{}
	var mids []float64 // distinct gap midpoints, to the point
	for i, r := range raws {
		if len(r.gs) > 0 {
			minX, maxX = min(minX, r.gs[0].x), max(maxX, lineEnd(r.gs))
		}
		lg[i].cuts, lg[i].gaps = wideGaps(r.gs)
		for _, gp := range lg[i].gaps {
			if m := math.Round((gp[0] + gp[1]) / 2); !seen[m] && len(mids) < 256 {
				seen[m] = true
				mids = append(mids, m)
			}
		}
	}
	// split returns where line i is cut by a wide gap around x.
	split := func(i int, x float64) (int, bool) {
		for j, gp := range lg[i].gaps {
			if gp[0] < x && x < gp[1] {
				return lg[i].cuts[j], true
			}
		}
		return 0, false
	}
	// The gutter: the gap midpoint that the most lines have a gap around.
	best, bestN := 0.0, 0
	for _, m := range mids {
		if m < minX+0.25*(maxX-minX) || m > minX+0.75*(maxX-minX) {
			continue
		}
		n := 0
		for i := range raws {
			if _, ok := split(i, m); ok {
				n++
			}
		}
		if n > bestN {
			best, bestN = m, n
		}
	}
	if bestN < 5 {
		return raws
	}
	var splits, crossing, leftRunes, rightRunes int
	for i, r := range raws {
		k, ok := split(i, best)
		switch {
		case ok:
			splits++
			leftRunes += runesOf(r.gs[:k])
			rightRunes += runesOf(r.gs[k:])
		case crosses(r.gs, best):
			crossing++
		}
	}
	if splits*2 < splits+crossing || leftRunes < 20*splits || rightRunes < 20*splits {
		return raws
	}
	out := make([]glyphLine, 0, len(raws)+splits)
	var left, right []glyphLine
	flush := func() {
		out = append(append(out, left...), right...)
		left, right = left[:0], right[:0]
	}
	for i, r := range raws {
		if k, ok := split(i, best); ok {
			left = append(left, glyphLine{gs: r.gs[:k], y: r.y})
			right = append(right, glyphLine{gs: r.gs[k:], y: r.y})
			continue
		}
		switch {
		case crosses(r.gs, best):
			flush()
			out = append(out, r)
		case r.gs[0].x >= best:
			right = append(right, r)
		default:
			left = append(left, r)
		}
	}
	flush()
	return out
}

// crosses reports whether the text of gs clearly runs over x (by more
// than two letters: widths may be estimates).
func crosses(gs []glyph, x float64) bool {
	return len(gs) > 0 && gs[0].x < x && lineEnd(gs) > x+2*gs[0].size
}

// lineEnd estimates where the text of gs ends (runs of a font without
// widths are as long as their glyphs' estimated widths together).
func lineEnd(gs []glyph) float64 {
	end := math.Inf(-1)
	for i, g := range gs {
		if i > 0 && g.x == gs[i-1].x && gs[i-1].w == 0 {
			end += glyphWidth(g)
		} else {
			end = max(end, g.x+glyphWidth(g))
		}
	}
	return end
}

func runesOf(gs []glyph) int {
	n := 0
	for _, g := range gs {
		n += utf8.RuneCountInString(g.s)
	}
	return n
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// lineText joins the glyphs of one line (sorted by x).
func lineText(gs []glyph) (pdfLine, bool) {
	var b strings.Builder
	l := pdfLine{}
	end := 0.0
	space := false // the text ends with a space
	for i, g := range gs {
		l.size = max(l.size, g.size)
		est := g.w
		if est == 0 {
			per := 0.5
			if g.mono {
				per = 0.6
			}
			est = per * g.size * float64(utf8.RuneCountInString(g.s))
		}
		if i > 0 {
			prev := gs[i-1]
			sameRun := g.x == prev.x && prev.w == 0
			if g.s == prev.s && prev.w > 0 && math.Abs(g.x-prev.x) < 0.15*g.size && g.s != " " {
				continue // the same glyph drawn twice (simulated bold)
			}
			gap := g.x - end
			cellGap := 1.8
			if prev.w == 0 {
				cellGap = 3
			}
			switch {
			case sameRun:
				end += est
			case gap > cellGap*g.size && b.Len() > 0:
				trimSpace(&b)
				b.WriteString(" | ")
				l.cells, space = true, true
			case (gap > 0.12*g.size || prev.w == 0) && !space:
				b.WriteByte(' ')
				space = true
			}
			if !sameRun {
				end = max(end, g.x+est)
			}
		} else {
			end = g.x + est
		}
		for _, r := range g.s {
			switch {
			case unicode.IsSpace(r) || r == 0xa0:
				if !space && b.Len() > 0 {
					b.WriteByte(' ')
					space = true
				}
			case unicode.IsControl(r) || r == utf8.RuneError:
			default:
				b.WriteRune(r)
				space = false
			}
		}
	}
	l.text = strings.TrimSpace(leaders.ReplaceAllString(ligatures.Replace(b.String()), " … "))
	l.text = strings.TrimSuffix(strings.TrimPrefix(l.text, "| "), " |")
	return l, strings.TrimSpace(strings.Trim(l.text, "|")) != ""
}

// ligatures spells out the Latin ligatures fonts draw as one glyph, so
// that "ﬁle" is found by a search for "file".
var ligatures = strings.NewReplacer("\ufb00", "ff", "\ufb01", "fi", "\ufb02", "fl", "\ufb03", "ffi", "\ufb04", "ffl", "\ufb05", "st", "\ufb06", "st")

// leaders matches dot leaders (". . . ." or ": : : :", as in a table of
// contents), which become one ellipsis.
var leaders = regexp.MustCompile(`(?:\s*[.:·]){4,}\s*`)

func trimSpace(b *strings.Builder) {
	s := strings.TrimRight(b.String(), " ")
	b.Reset()
	b.WriteString(s)
}

// pdfLayout turns lines into blocks. The body font size is the one most
// text is set in; lines in a font at least 15% larger (and of at most 20
// words) are headings, the largest size being level 1. Consecutive lines
// with cells are a table. Other lines join into paragraphs while the gap
// to the next line stays within 1.3 times the usual line spacing; a word
// hyphenated at a line end is joined again.
func pdfLayout(lines []pdfLine) []Block {
	sizes := map[float64]int{}
	for _, l := range lines {
		sizes[roundHalf(l.size)] += utf8.RuneCountInString(l.text)
	}
	body, most := 0.0, -1
	for s, n := range sizes {
		if n > most || (n == most && s < body) {
			body, most = s, n
		}
	}
	lines = dropRunningLines(lines, body)
	isHeading := func(l pdfLine) bool {
		return roundHalf(l.size) >= body*1.15 && len(strings.Fields(l.text)) <= 20 && !l.cells &&
			strings.IndexFunc(l.text, unicode.IsLetter) >= 0 && !tocEntry.MatchString(l.text)
	}
	var headSizes []float64
	seen := map[float64]bool{}
	gaps := map[float64]int{}
	for i, l := range lines {
		if isHeading(l) && !seen[roundHalf(l.size)] {
			seen[roundHalf(l.size)] = true
			headSizes = append(headSizes, roundHalf(l.size))
		}
		if i > 0 && lines[i-1].page == l.page && !isHeading(l) && !isHeading(lines[i-1]) {
			if g := lines[i-1].y - l.y; g > 0.8*l.size && g < 3*l.size {
				gaps[roundHalf(g)]++
			}
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(headSizes)))
	level := func(size float64) int {
		for i, s := range headSizes {
			if s == roundHalf(size) {
				return min(i+1, 6)
			}
		}
		return 6
	}
	leading, most := 0.0, 0
	for g, n := range gaps {
		if n > most || (n == most && g < leading) {
			leading, most = g, n
		}
	}

	var heads headingStack
	var out []Block
	var prev *pdfLine
	for i := range lines {
		l := &lines[i]
		var last *Block
		if len(out) > 0 && prev != nil && prev.page == l.page {
			last = &out[len(out)-1]
		}
		gap := 0.0
		if prev != nil {
			gap = prev.y - l.y
		}
		lead := leading
		if lead == 0 {
			lead = 1.2 * l.size
		}
		switch {
		case isHeading(*l):
			lv := level(l.size)
			if last != nil && last.Kind == KindHeading && last.Level == lv && gap > 0 && gap < 1.6*l.size {
				last.Text += " " + l.text
				last.Heading = heads.push(lv, last.Text)
				break
			}
			out = append(out, Block{Kind: KindHeading, Text: l.text, Heading: heads.push(lv, l.text), Level: lv, Page: l.page})
		case l.cells:
			if last != nil && last.Kind == KindTable && gap > 0 && gap < 2.5*l.size {
				last.Text += "\n" + l.text
				break
			}
			out = append(out, Block{Kind: KindTable, Text: l.text, Heading: heads.path(), Page: l.page})
		default:
			if last != nil && last.Kind == KindParagraph && gap > 0 && gap <= lead*1.3+0.5 && math.Abs(prev.size-l.size) < 1 {
				last.Text = joinLine(last.Text, l.text)
				break
			}
			out = append(out, Block{Kind: KindParagraph, Text: l.text, Heading: heads.path(), Page: l.page})
		}
		prev = l
	}
	return out
}

func roundHalf(f float64) float64 { return math.Round(f*2) / 2 }

// joinLine appends a line to a paragraph, joining a word hyphenated at the
// line end ("exam-" + "ple").
func joinLine(para, line string) string {
	if n := len(para); n >= 2 && para[n-1] == '-' {
		r, _ := utf8.DecodeLastRuneInString(para[:n-1])
		next, _ := utf8.DecodeRuneInString(line)
		if unicode.IsLetter(r) && unicode.IsLower(next) {
			return para[:n-1] + line
		}
	}
	return para + " " + line
}

// dropRunningLines removes page headers and footers: the first and last
// line of a page when, with digits ignored, the same text is the first
// (or last) line of at least 3 pages and a third of them ("Chapter 2 |
// 14"), and lone page numbers ("14", "xii", "- 3 -", "Page 3 of 9").
// Lines in a font larger than the body's are headings ("Section 3"), kept.
func dropRunningLines(lines []pdfLine, body float64) []pdfLine {
	type edge struct{ first, last int } // line indexes, -1 for none
	edges := map[int]*edge{}
	var order []int
	for i, l := range lines {
		e, ok := edges[l.page]
		if !ok {
			e = &edge{first: i}
			edges[l.page] = e
			order = append(order, l.page)
		}
		e.last = i
	}
	counts := map[string]int{}
	for _, p := range order {
		e := edges[p]
		counts["f"+runningKey(lines[e.first].text)]++
		if e.last != e.first {
			counts["l"+runningKey(lines[e.last].text)]++
		}
	}
	repeated := func(prefix, text string) bool {
		n := counts[prefix+runningKey(text)]
		return n >= 3 && n*3 >= len(order)
	}
	// A header that ends (or starts) with the page's number, printed with
	// a constant offset from the page's index ("Chapter 2: Usage | 14").
	offsets := map[int]int{}
	for _, p := range order {
		e := edges[p]
		seen := map[int]bool{}
		for _, i := range []int{e.first, e.last} {
			if n, ok := edgeNumber(lines[i].text); ok && !seen[n-p] {
				seen[n-p] = true
				offsets[n-p]++
			}
		}
	}
	numbered := func(l pdfLine) bool {
		n, ok := edgeNumber(l.text)
		c := offsets[n-l.page]
		return ok && c >= 3 && c*3 >= len(order) && len(strings.Fields(l.text)) <= 12
	}
	drop := map[int]bool{}
	for _, p := range order {
		e := edges[p]
		for _, i := range []int{e.first, e.last} {
			prefix := "f"
			if i == e.last && i != e.first {
				prefix = "l"
			}
			if roundHalf(lines[i].size) >= body*1.15 {
				continue
			}
			if pageNumber.MatchString(lines[i].text) || repeated(prefix, lines[i].text) || numbered(lines[i]) {
				drop[i] = true
			}
		}
	}
	if len(drop) == 0 {
		return lines
	}
	kept := make([]pdfLine, 0, len(lines)-len(drop))
	for i, l := range lines {
		if !drop[i] {
			kept = append(kept, l)
		}
	}
	return kept
}

// tocEntry matches a table of contents entry: dot leaders, a page number.
var tocEntry = regexp.MustCompile(`… ?[0-9ivxlcdm]{1,6}$`)

// pageNumber matches a line that is only a page number.
var pageNumber = regexp.MustCompile(`(?i)^[-–—\s]*(?:page\s+)?(?:\d{1,5}|m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))(?:\s*(?:/|of)\s*\d{1,5})?[-–—\s]*$`)

// edgeNumber returns the number a line starts or ends with, as a page
// number in a running header is placed.
func edgeNumber(s string) (int, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, false
	}
	for _, w := range []string{f[len(f)-1], f[0]} {
		if n, err := strconv.Atoi(w); err == nil && n >= 0 && n < 100000 {
			return n, true
		}
	}
	return 0, false
}

// runningKey is a line's text with its digits and spaces left out.
func runningKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
