package ingest

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHTMLDepth bounds the recursion of the HTML walker; deeper subtrees are
// flattened into the current block's text.
const maxHTMLDepth = 512

// parseHTML parses an HTML document with golang.org/x/net/html (which
// decodes entities and repairs bad markup the way browsers do) and walks
// the tree into blocks. The title is <title>, else the first <h1>, else "".
// The parser refuses elements nested more than 512 deep: such a document
// is read by flatHTML instead.
func parseHTML(src []byte) ([]Block, string, error) {
	root, err := html.Parse(bytes.NewReader(src))
	if err != nil {
		// Not a read error (impossible from a bytes.Reader): the parser's
		// own limit on nesting.
		return flatHTML(src), "", nil
	}
	w := htmlWalker{kind: KindParagraph}
	if head := findElement(root, atom.Head); head != nil {
		if t := findElement(head, atom.Title); t != nil {
			w.title = collapseSpace(textContent(t, false))
		}
	}
	w.walk(root, 0)
	w.flush()
	return w.out, w.title, nil
}

// skipped elements hold no document text: scripts, styles, metadata,
// navigation, forms' widgets and embedded objects.
func skipped(a atom.Atom) bool {
	switch a {
	case atom.Head, atom.Script, atom.Style, atom.Noscript, atom.Template,
		atom.Nav, atom.Footer, atom.Svg, atom.Math, atom.Iframe, atom.Object,
		atom.Embed, atom.Canvas, atom.Select, atom.Button, atom.Textarea,
		atom.Input, atom.Audio, atom.Video, atom.Map:
		return true
	}
	return false
}

// blockLevel elements end the text before them and start a new block.
func blockLevel(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Section, atom.Article, atom.Main, atom.Header,
		atom.Aside, atom.Figure, atom.Figcaption, atom.Dl, atom.Dt, atom.Dd,
		atom.Address, atom.Details, atom.Summary, atom.Hr, atom.Form,
		atom.Fieldset, atom.Legend, atom.Center, atom.Body, atom.Html,
		atom.Caption, atom.Hgroup, atom.Search:
		return true
	}
	return false
}

func headingLevel(a atom.Atom) int {
	switch a {
	case atom.H1:
		return 1
	case atom.H2:
		return 2
	case atom.H3:
		return 3
	case atom.H4:
		return 4
	case atom.H5:
		return 5
	case atom.H6:
		return 6
	}
	return 0
}

type htmlWalker struct {
	heads  headingStack
	title  string
	out    []Block
	buf    strings.Builder // inline text of the block being read
	space  bool            // whitespace seen since the last word
	kind   Kind            // kind of the block being read
	marker string          // list marker not yet written, "" once used
	indent string          // list indentation
	depth  int             // list nesting depth
}

func (w *htmlWalker) walk(n *html.Node, depth int) {
	if depth > maxHTMLDepth {
		w.text(textContent(n, false))
		return
	}
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode:
	case html.DocumentNode:
		w.children(n, depth)
		return
	default:
		return // comments, doctype
	}
	a := n.DataAtom
	switch {
	case skipped(a):
	case headingLevel(a) > 0:
		w.flush()
		if t := collapseSpace(textContent(n, false)); t != "" {
			level := headingLevel(a)
			path := w.heads.push(level, t)
			w.out = append(w.out, Block{Kind: KindHeading, Text: t, Heading: path, Level: level})
			if level == 1 && w.title == "" {
				w.title = t
			}
		}
	case a == atom.Pre:
		w.flush()
		t := strings.TrimRight(textContent(n, true), " \t\r\n")
		t = strings.TrimLeft(t, "\r\n")
		w.add(KindCode, t)
	case a == atom.Table:
		w.flush()
		w.add(KindTable, tableText(n))
	case a == atom.Ul || a == atom.Ol || a == atom.Menu:
		w.flush()
		num := 1
		if a == atom.Ol {
			if s, err := strconv.Atoi(attr(n, "start")); err == nil {
				num = s
			}
		}
		w.depth++
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Li {
				marker := "- "
				if a == atom.Ol {
					marker = strconv.Itoa(num) + ". "
					num++
				}
				w.listItem(c, depth+1, marker)
			} else {
				w.walk(c, depth+1)
			}
		}
		w.depth--
		w.flush()
	case a == atom.Li: // outside a list
		w.listItem(n, depth, "- ")
	case a == atom.Blockquote:
		w.flush()
		saved := w.kind
		w.kind = KindQuote
		w.children(n, depth)
		w.flush()
		w.kind = saved
	case a == atom.Br:
		w.buf.WriteByte('\n')
		w.space = false
	case blockLevel(a):
		w.flush()
		w.children(n, depth)
		w.flush()
	default:
		w.children(n, depth)
	}
}

func (w *htmlWalker) children(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c, depth+1)
	}
}

func (w *htmlWalker) listItem(li *html.Node, depth int, marker string) {
	w.flush()
	savedKind, savedMarker, savedIndent := w.kind, w.marker, w.indent
	w.kind, w.marker, w.indent = KindListItem, marker, strings.Repeat("  ", max(w.depth-1, 0))
	w.children(li, depth)
	w.flush()
	w.kind, w.marker, w.indent = savedKind, savedMarker, savedIndent
}

// text appends inline text, collapsing whitespace as a browser does.
func (w *htmlWalker) text(s string) {
	s = strings.ReplaceAll(s, "\u00a0", " ") // &nbsp;
	for s != "" {
		if i := strings.IndexFunc(s, isHTMLSpace); i != 0 {
			word := s
			if i > 0 {
				word = s[:i]
			}
			if w.space && w.buf.Len() > 0 {
				w.buf.WriteByte(' ')
			}
			w.buf.WriteString(word)
			w.space = false
			if i < 0 {
				return
			}
			s = s[i:]
		}
		w.space = true
		j := strings.IndexFunc(s, func(r rune) bool { return !isHTMLSpace(r) })
		if j < 0 {
			return
		}
		s = s[j:]
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

// flush ends the block being read.
func (w *htmlWalker) flush() {
	t := w.buf.String()
	w.buf.Reset()
	w.space = false
	// Tidy the spaces around <br> line breaks.
	lines := strings.Split(t, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	t = strings.Join(kept, "\n")
	if t == "" {
		return
	}
	if w.kind == KindListItem {
		if w.marker != "" {
			t = w.indent + w.marker + t
			w.marker = ""
		} else {
			t = w.indent + "  " + t
		}
	}
	w.add(w.kind, t)
}

func (w *htmlWalker) add(kind Kind, t string) {
	if strings.TrimSpace(t) == "" {
		return
	}
	w.out = append(w.out, Block{Kind: kind, Text: t, Heading: w.heads.path()})
}

// tableText renders a table one row per line, cells separated by " | ".
// Rows of nested tables stay in their cell's text.
func tableText(table *html.Node) string {
	var rows []string
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Tr:
				var cells []string
				for td := c.FirstChild; td != nil; td = td.NextSibling {
					if td.Type == html.ElementNode && (td.DataAtom == atom.Td || td.DataAtom == atom.Th) {
						cells = append(cells, collapseSpace(textContent(td, false)))
					}
				}
				if row := strings.Join(cells, " | "); strings.Trim(row, " |") != "" {
					rows = append(rows, row)
				}
			case atom.Thead, atom.Tbody, atom.Tfoot:
				visit(c)
			case atom.Caption:
				if t := collapseSpace(textContent(c, false)); t != "" {
					rows = append(rows, t)
				}
			}
		}
	}
	visit(table)
	return strings.Join(rows, "\n")
}

// textContent returns the text under n, skipping the elements that hold no
// document text. With pre, whitespace is kept; otherwise callers collapse
// it. It uses an explicit stack, so any depth is safe.
func textContent(n *html.Node, pre bool) string {
	var b strings.Builder
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch c.Type {
		case html.TextNode:
			b.WriteString(c.Data)
			continue
		case html.ElementNode:
			if c != n && skipped(c.DataAtom) {
				continue
			}
			if c.DataAtom == atom.Br {
				b.WriteByte('\n')
			} else if !pre && (blockLevel(c.DataAtom) || c.DataAtom == atom.Li || c.DataAtom == atom.Td || c.DataAtom == atom.Th) {
				b.WriteByte(' ')
			}
		case html.DocumentNode:
		default:
			continue
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return b.String()
}

// findElement returns the first element of type a under n, depth first.
func findElement(n *html.Node, a atom.Atom) *html.Node {
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// htmlFragmentText returns the text of an HTML fragment (raw HTML inside
// Markdown), whitespace collapsed, without script or style content.
func htmlFragmentText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return collapseSpace(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		case html.StartTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); a == atom.Script || a == atom.Style {
				skip++
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); (a == atom.Script || a == atom.Style) && skip > 0 {
				skip--
			}
		}
	}
}

// flatHTML reads HTML with the tokenizer alone, for documents the parser
// refuses (nested too deep): paragraphs end at block-level and heading
// tags, headings are not told apart, scripts and the like are dropped.
// It keeps no stack, so it runs in linear time at any depth.
func flatHTML(src []byte) []Block {
	z := html.NewTokenizer(bytes.NewReader(src))
	var out []Block
	var b strings.Builder
	skip := 0
	flush := func() {
		if t := collapseSpace(b.String()); t != "" {
			out = append(out, Block{Kind: KindParagraph, Text: t})
		}
		b.Reset()
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flush()
			return out
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped(a) && tt != html.SelfClosingTagToken {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
				continue
			}
			if blockLevel(a) || headingLevel(a) > 0 || a == atom.Li || a == atom.Tr || a == atom.Pre || a == atom.Br {
				flush()
			}
		}
	}
}
