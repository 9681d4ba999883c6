package ingest

import (
	"strings"
	"unicode/utf8"
)

// parseText splits plain text into paragraphs at blank lines (lines that
// hold only whitespace). Line breaks inside a paragraph are kept; "\r\n"
// and lone "\r" become "\n".
func parseText(src []byte) []Block {
	s := string(src)
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	var blocks []Block
	start := -1 // start of the current paragraph, or -1 between paragraphs
	end := 0    // end of the current paragraph's last non-blank line
	for pos := 0; pos <= len(s); {
		nl := strings.IndexByte(s[pos:], '\n')
		lineEnd := len(s)
		if nl >= 0 {
			lineEnd = pos + nl
		}
		if isBlank(s[pos:lineEnd]) {
			if start >= 0 {
				blocks = appendParagraph(blocks, s[start:end])
				start = -1
			}
		} else {
			if start < 0 {
				start = pos
			}
			end = lineEnd
		}
		if nl < 0 {
			break
		}
		pos = lineEnd + 1
	}
	if start >= 0 {
		blocks = appendParagraph(blocks, s[start:end])
	}
	return blocks
}

func appendParagraph(blocks []Block, p string) []Block {
	if p = strings.TrimSpace(p); p != "" {
		blocks = append(blocks, Block{Kind: KindParagraph, Text: p})
	}
	return blocks
}

// isBlank reports whether s holds only whitespace.
func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\v', '\f', '\r':
		default:
			if s[i] < 0x80 {
				return false
			}
			return strings.TrimSpace(s[i:]) == ""
		}
	}
	return true
}

// parseRST reads reStructuredText as plain text, with its section titles
// as headings: a line underlined (and maybe overlined) with a row of one
// punctuation character at least as long as the title. Levels follow the
// order in which the underline styles first appear, as docutils does.
// Other markup stays as it is.
func parseRST(src []byte) parsed {
	lines := splitLines(src)
	var styles []string // underline styles in order of appearance
	level := func(style string) int {
		for i, s := range styles {
			if s == style {
				return i + 1
			}
		}
		styles = append(styles, style)
		return len(styles)
	}
	headings := map[int]int{} // line index of a title → level
	skip := map[int]bool{}    // adornment lines
	for i := 0; i+1 < len(lines); i++ {
		title := strings.TrimSpace(lines[i])
		under := strings.TrimRight(lines[i+1], " \t")
		if title == "" || !rstAdornment(under) || len(under) < runeLen(title) || rstAdornment(title) {
			continue
		}
		style := under[:1]
		if i > 0 && strings.TrimRight(lines[i-1], " \t") == under {
			style += "/over"
			skip[i-1] = true
		}
		headings[i] = min(level(style), 6)
		skip[i+1] = true
		i++
	}
	return parsed{blocks: headedText(lines, headings, skip)}
}

// parseAsciiDoc reads AsciiDoc as plain text, with its section titles
// ("= Title", "== Section", ... or "#" for "=") as headings; the document
// title (level 0, "= Title") is the title and a level-1 heading. Other
// markup stays as it is; "//" comment lines are dropped.
func parseAsciiDoc(src []byte) parsed {
	lines := splitLines(src)
	headings := map[int]int{}
	skip := map[int]bool{}
	title := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "//") && !strings.HasPrefix(l, "///") {
			skip[i] = true
			continue
		}
		n := 0
		for n < len(l) && (l[n] == '=' || l[n] == '#') && l[n] == l[0] {
			n++
		}
		if n == 0 || n > 6 || n >= len(l) || l[n] != ' ' || strings.TrimSpace(l[n:]) == "" {
			continue
		}
		if i > 0 && strings.TrimSpace(lines[i-1]) != "" && !skip[i-1] {
			continue // a section title follows a blank line
		}
		lines[i] = strings.TrimSpace(l[n:])
		headings[i] = n
		if n == 1 && title == "" {
			title = lines[i]
		}
	}
	return parsed{blocks: headedText(lines, headings, skip), title: title}
}

// headedText is parseText over lines, with the lines in headings (index →
// level) as heading blocks and the lines in skip left out.
func headedText(lines []string, headings map[int]int, skip map[int]bool) []Block {
	var heads headingStack
	var blocks []Block
	var para []string
	flush := func() {
		if len(para) > 0 {
			start := len(blocks)
			blocks = appendParagraph(blocks, strings.Join(para, "\n"))
			for i := start; i < len(blocks); i++ {
				blocks[i].Heading = heads.path()
			}
			para = para[:0]
		}
	}
	for i, l := range lines {
		switch {
		case skip[i]:
			flush()
		case headings[i] > 0:
			flush()
			t := collapseSpace(l)
			path := heads.push(headings[i], t)
			blocks = append(blocks, Block{Kind: KindHeading, Text: t, Heading: path, Level: headings[i]})
		case isBlank(l):
			flush()
		default:
			para = append(para, l)
		}
	}
	flush()
	return blocks
}

// splitLines splits text at line ends ("\n", "\r\n" or "\r").
func splitLines(src []byte) []string {
	s := string(src)
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.Split(s, "\n")
}

// rstAdornment reports whether l is a row of at least 2 of one
// punctuation character, as reStructuredText underlines titles with.
func rstAdornment(l string) bool {
	if len(l) < 2 || !strings.ContainsRune("=-`:'\"~^_*+#<>.", rune(l[0])) {
		return false
	}
	return strings.Trim(l, l[:1]) == ""
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
