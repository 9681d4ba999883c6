package ingest

import (
	"fmt"
	"strings"

	"github.com/ledongthuc/pdf"
)

// Bounds on interpreting one page's content.
const (
	maxPDFGlyphs    = 2 << 20 // glyphs kept per page
	maxPDFFormDepth = 8       // form XObjects drawn inside each other
	maxPDFForms     = 256     // form XObjects drawn on one page
)

// pdfMatrix is a PDF transformation matrix [a b c d e f], standing for
//
//	a b 0
//	c d 0
//	e f 1
type pdfMatrix [6]float64

var identity = pdfMatrix{1, 0, 0, 1, 0, 0}

// mul returns m × n.
func (m pdfMatrix) mul(n pdfMatrix) pdfMatrix {
	return pdfMatrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func translate(tx, ty float64) pdfMatrix { return pdfMatrix{1, 0, 0, 1, tx, ty} }

// pdfFont is what the text operators need of a font, read once per page
// (the reader resolves a font's entries anew on each access, which for
// fonts in compressed object streams means decompressing them each time).
type pdfFont struct {
	enc    pdf.TextEncoding
	first  int
	widths []float64
	mono   bool
}

func (f *pdfFont) width(code byte) float64 {
	if f == nil {
		return 0
	}
	if i := int(code) - f.first; i >= 0 && i < len(f.widths) {
		return f.widths[i]
	}
	return 0
}

// textState is the graphics and text state the text operators use.
type textState struct {
	ctm                     pdfMatrix
	tc, tw, th, tl, tfs, ts float64 // char and word spacing, scale, leading, size, rise
	font                    *pdfFont
}

// pageGlyphs interprets a page's content streams (and the form XObjects
// they draw) for their text: every glyph with its position, width and
// size on the page, as the PDF text operators place it (PDF 32000-1,
// 9.4). It replaces the reader's Page.Content, which re-reads font
// entries for every glyph and does not enter forms. Graphics other than
// the current transformation matrix are ignored. At most maxPDFGlyphs are
// kept and maxPDFForms forms drawn, whose content counts against budget
// (the bytes of content the page may still expand to; pdfContentSize
// has counted the page's own streams). Malformed operands make the reader
// panic; parsePDF recovers.
func pageGlyphs(page pdf.Page, budget int64) (glyphs []glyph, used int64, err error) {
	t := textInterp{budget: budget}
	t.run(page.V.Key("Contents"), page.Resources(), identity, 0)
	return t.out, budget - t.budget, t.err
}

type textInterp struct {
	out    []glyph
	forms  int
	budget int64
	err    error
}

func (t *textInterp) run(strm, resources pdf.Value, ctm pdfMatrix, depth int) {
	out := &t.out
	if strm.Kind() != pdf.Stream && strm.Kind() != pdf.Array {
		return
	}
	fonts := map[string]*pdfFont{}
	font := func(name string) *pdfFont {
		if f, ok := fonts[name]; ok {
			return f
		}
		v := resources.Key("Font").Key(name)
		f := &pdfFont{first: int(v.Key("FirstChar").Int64())}
		pf := pdf.Font{V: v}
		f.enc = pf.Encoder()
		f.widths = pf.Widths()
		base := strings.ToLower(pf.BaseFont())
		f.mono = strings.Contains(base, "courier") || strings.Contains(base, "mono")
		fonts[name] = f
		return f
	}
	g := textState{ctm: ctm, th: 1}
	var stack []textState
	var tm, tlm pdfMatrix
	show := func(raw string) {
		if g.font == nil || g.font.enc == nil {
			return
		}
		text := g.font.enc.Decode(raw)
		n := 0
		for _, r := range text {
			var code byte
			if n < len(raw) {
				code = raw[n]
			}
			n++
			w0 := g.font.width(code)
			trm := pdfMatrix{g.tfs * g.th, 0, 0, g.tfs, 0, g.ts}.mul(tm).mul(g.ctm)
			if len(*out) < maxPDFGlyphs {
				*out = append(*out, glyph{x: trm[4], y: trm[5], w: w0 / 1000 * trm[0], size: trm[0], s: string(r), mono: g.font.mono})
			}
			tx := w0/1000*g.tfs + g.tc
			if code == ' ' {
				tx += g.tw
			}
			tm = translate(tx*g.th, 0).mul(tm)
		}
	}
	num := func(args []pdf.Value, i int) float64 {
		if i < len(args) {
			return args[i].Float64()
		}
		return 0
	}
	matrixOf := func(args []pdf.Value) pdfMatrix {
		var m pdfMatrix
		for i := range m {
			m[i] = num(args, i)
		}
		return m
	}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "q":
			if len(stack) < 1024 {
				stack = append(stack, g)
			}
		case "Q":
			if n := len(stack); n > 0 {
				g, stack = stack[n-1], stack[:n-1]
			}
		case "cm":
			g.ctm = matrixOf(args).mul(g.ctm)
		case "BT":
			tm, tlm = identity, identity
		case "Tc":
			g.tc = num(args, 0)
		case "Tw":
			g.tw = num(args, 0)
		case "Tz":
			g.th = num(args, 0) / 100
		case "TL":
			g.tl = num(args, 0)
		case "Ts":
			g.ts = num(args, 0)
		case "Tf":
			if len(args) == 2 {
				g.font = font(args[0].Name())
				g.tfs = args[1].Float64()
			}
		case "Td", "TD":
			if op == "TD" {
				g.tl = -num(args, 1)
			}
			tlm = translate(num(args, 0), num(args, 1)).mul(tlm)
			tm = tlm
		case "Tm":
			tlm = matrixOf(args)
			tm = tlm
		case "T*":
			tlm = translate(0, -g.tl).mul(tlm)
			tm = tlm
		case "Tj":
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "'", "\"":
			if op == "\"" && len(args) == 3 {
				g.tw, g.tc = args[0].Float64(), args[1].Float64()
				args = args[2:]
			}
			tlm = translate(0, -g.tl).mul(tlm)
			tm = tlm
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "TJ":
			if len(args) != 1 {
				return
			}
			a := args[0]
			for i := 0; i < a.Len(); i++ {
				x := a.Index(i)
				if x.Kind() == pdf.String {
					show(x.RawString())
				} else {
					tm = translate(-x.Float64()/1000*g.tfs*g.th, 0).mul(tm)
				}
			}
		case "Do":
			if len(args) != 1 || depth >= maxPDFFormDepth || t.forms >= maxPDFForms || t.err != nil {
				return
			}
			form := resources.Key("XObject").Key(args[0].Name())
			if form.Kind() != pdf.Stream || form.Key("Subtype").Name() != "Form" {
				return
			}
			t.forms++
			size, err := pdfContentSize(form, t.budget)
			if t.budget -= size; err != nil || t.budget <= 0 {
				if err == nil {
					err = fmt.Errorf("%w: form content expands past the limit", ErrExpansion)
				}
				t.err = err
				return
			}
			res := form.Key("Resources")
			if res.Kind() != pdf.Dict {
				res = resources
			}
			m := identity
			if fm := form.Key("Matrix"); fm.Kind() == pdf.Array && fm.Len() == 6 {
				for i := range m {
					m[i] = fm.Index(i).Float64()
				}
			}
			t.run(form, res, m.mul(g.ctm), depth+1)
		}
	})
}
