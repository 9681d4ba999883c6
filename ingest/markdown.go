package ingest

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// parseMarkdown parses CommonMark (plus GitHub tables and strikethrough)
// with goldmark and walks the syntax tree into blocks. The title is the
// first level-1 heading, else the front matter's title, else "". YAML
// front matter goes into the metadata.
func parseMarkdown(src []byte) parsed {
	src, meta := frontMatter(src)
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	root := md.Parser().Parse(text.NewReader(src))
	w := mdWalker{src: src}
	w.block(root, 0, KindParagraph)
	return parsed{blocks: w.out, title: w.title, meta: meta}
}

type mdWalker struct {
	src   []byte
	heads headingStack
	title string
	out   []Block
}

// block emits the blocks of n and its children. depth is the list nesting
// depth; kind is the kind given to paragraphs (KindQuote inside a quote).
func (w *mdWalker) block(n ast.Node, depth int, kind Kind) {
	switch n := n.(type) {
	case *ast.Heading:
		t := collapseSpace(w.inline(n))
		if t == "" {
			return
		}
		path := w.heads.push(n.Level, t)
		w.out = append(w.out, Block{Kind: KindHeading, Text: t, Heading: path, Level: n.Level})
		if n.Level == 1 && w.title == "" {
			w.title = t
		}
	case *ast.Paragraph, *ast.TextBlock:
		w.emit(kind, strings.TrimSpace(w.inline(n)))
	case *ast.List:
		num := n.Start
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = strconv.Itoa(num) + ". "
				num++
			}
			w.listItem(c, depth, marker)
		}
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		w.emit(KindCode, strings.TrimRight(w.lines(n), " \t\r\n"))
	case *ast.HTMLBlock:
		w.emit(kind, htmlFragmentText(w.lines(n)))
	case *ast.Blockquote:
		w.children(n, depth, KindQuote)
	case *ast.ThematicBreak:
	case *east.Table:
		w.emit(KindTable, w.table(n))
	default:
		w.children(n, depth, kind)
	}
}

func (w *mdWalker) children(n ast.Node, depth int, kind Kind) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.block(c, depth, kind)
	}
}

// listItem emits a list item: its leading text as one KindListItem block
// that starts with marker, indented by depth; nested blocks follow.
func (w *mdWalker) listItem(item ast.Node, depth int, marker string) {
	indent := strings.Repeat("  ", depth)
	var buf []string
	flush := func() {
		if len(buf) == 0 {
			return
		}
		t := strings.Join(buf, " ")
		buf = buf[:0]
		if marker == "" {
			t = indent + "  " + t // a continuation of the item
		} else {
			t = indent + marker + t
			marker = ""
		}
		w.emit(KindListItem, t)
	}
	for c := item.FirstChild(); c != nil; c = c.NextSibling() {
		switch c.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			if t := strings.TrimSpace(w.inline(c)); t != "" {
				buf = append(buf, t)
			}
		default:
			flush()
			w.block(c, depth+1, KindParagraph)
		}
	}
	flush()
}

func (w *mdWalker) table(t ast.Node) string {
	var rows []string
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, collapseSpace(w.inline(c)))
		}
		if row := strings.TrimSpace(strings.Join(cells, " | ")); strings.Trim(row, " |") != "" {
			rows = append(rows, row)
		}
	}
	return strings.Join(rows, "\n")
}

func (w *mdWalker) emit(kind Kind, t string) {
	if strings.TrimSpace(t) == "" {
		return
	}
	w.out = append(w.out, Block{Kind: kind, Text: t, Heading: w.heads.path()})
}

// lines returns the raw text of a block whose content is kept verbatim
// (code, raw HTML).
func (w *mdWalker) lines(n ast.Node) string {
	var b strings.Builder
	segs := n.Lines()
	for i := 0; i < segs.Len(); i++ {
		s := segs.At(i)
		b.Write(s.Value(w.src))
	}
	return b.String()
}

// inline returns the text of n's inline descendants: markup removed, soft
// line breaks turned into spaces, hard ones into newlines, raw HTML
// dropped, images replaced by their alt text.
func (w *mdWalker) inline(n ast.Node) string {
	var b strings.Builder
	w.appendInline(&b, n)
	return b.String()
}

func (w *mdWalker) appendInline(b *strings.Builder, n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Value(w.src)
			if !c.IsRaw() {
				// Backslash escapes and entities, as a renderer would.
				v = util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
			}
			b.Write(v)
			switch {
			case c.HardLineBreak():
				b.WriteByte('\n')
			case c.SoftLineBreak():
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.AutoLink:
			b.Write(c.Label(w.src))
		case *ast.RawHTML:
		default:
			w.appendInline(b, c)
		}
	}
}

// headingStack tracks the current heading path.
type headingStack struct {
	titles [6]string
	cur    string
}

// push records a heading of the given level (1 to 6) and returns the new
// path, which ends with title. Deeper headings are forgotten.
func (h *headingStack) push(level int, title string) string {
	level = min(max(level, 1), 6)
	h.titles[level-1] = title
	for i := level; i < len(h.titles); i++ {
		h.titles[i] = ""
	}
	var parts []string
	for _, t := range h.titles[:level] {
		if t != "" {
			parts = append(parts, t)
		}
	}
	h.cur = strings.Join(parts, HeadingSep)
	return h.cur
}

func (h *headingStack) path() string { return h.cur }

// collapseSpace trims s and replaces each run of whitespace with one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
