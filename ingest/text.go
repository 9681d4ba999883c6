package ingest

import "strings"

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
