package ingest

import (
	"encoding/xml"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// docxProperties maps the elements of docProps/core.xml to metadata keys.
var docxProperties = map[string]string{
	"title": "title", "subject": "subject", "creator": "author",
	"keywords": "keywords", "description": "description", "category": "category",
	"lastModifiedBy": "last_modified_by", "created": "created", "modified": "modified",
	"language": "language",
}

// parseDOCX reads an Office Open XML word-processing document (ECMA-376):
// a zip archive (see openZip for the zip bomb checks) whose main part,
// named by _rels/.rels (usually word/document.xml), holds the body. The
// body's paragraphs become blocks: headings by their style (a style named
// "heading N" or "Title", or with an outline level, also through
// w:basedOn), list items by their numbering, tables one row per line.
// Deleted revisions, field codes and the fallback copies of drawings are
// left out. docProps/core.xml gives the metadata.
func parseDOCX(src []byte, lim limits) (parsed, error) {
	zr, err := openZip(src, "DOCX", lim)
	if err != nil {
		return parsed{}, err
	}
	main := "word/document.xml"
	if rels, ok, err := zr.read("_rels/.rels"); err != nil {
		return parsed{}, err
	} else if ok {
		if target := officeDocumentTarget(rels); target != "" {
			main = target
		}
	}
	body, ok, err := zr.read(main)
	if err != nil {
		return parsed{}, err
	}
	if !ok {
		return parsed{}, fmt.Errorf("%w: the zip archive has no %s: not a DOCX document", ErrCorrupt, main)
	}
	styles := map[string]docxStyle{}
	if data, ok, err := zr.read(path.Join(path.Dir(main), "styles.xml")); err != nil {
		return parsed{}, err
	} else if ok {
		styles = readDOCXStyles(data)
	}
	var meta map[string]string
	if data, ok, err := zr.read("docProps/core.xml"); err != nil {
		return parsed{}, err
	} else if ok {
		meta = readProperties(data, docxProperties)
	}
	b, err := walkDOCX(body, main, styles)
	if err != nil {
		return parsed{}, err
	}
	return parsed{blocks: b.out, title: b.title, meta: meta}, nil
}

// officeDocumentTarget returns the main part named by a package's
// relationships, or "".
func officeDocumentTarget(rels []byte) string {
	d := newXMLDecoder(rels)
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Relationship" &&
			strings.HasSuffix(attrValue(se, "Type"), "/officeDocument") {
			t := strings.TrimPrefix(attrValue(se, "Target"), "/")
			if t == "" || strings.Contains(t, "..") {
				return ""
			}
			return path.Clean(t)
		}
	}
}

// docxStyle is what a paragraph style says about headings.
type docxStyle struct {
	level   int // heading level from the name or outline level, 0 if none
	basedOn string
}

// readDOCXStyles maps paragraph style IDs to heading levels.
func readDOCXStyles(data []byte) map[string]docxStyle {
	styles := map[string]docxStyle{}
	d := newXMLDecoder(data)
	var id string
	var cur docxStyle
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "style":
				id, cur = attrValue(t, "styleId"), docxStyle{}
			case "name":
				if id != "" {
					if l := headingStyleLevel(attrValue(t, "val")); l > 0 {
						cur.level = l
					}
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(attrValue(t, "val")); err == nil && n >= 0 && n < 9 && id != "" && cur.level == 0 {
					cur.level = min(n+1, 6)
				}
			case "basedOn":
				cur.basedOn = attrValue(t, "val")
			}
		case xml.EndElement:
			if t.Name.Local == "style" && id != "" {
				styles[id] = cur
				id = ""
			}
		}
	}
	return styles
}

// headingStyleLevel reads a style name: "heading 2" → 2, "Title" → 1.
func headingStyleLevel(name string) int {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "title" {
		return 1
	}
	if rest, ok := strings.CutPrefix(n, "heading"); ok {
		if l, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil && l >= 1 && l <= 9 {
			return min(l, 6)
		}
	}
	return 0
}

// styleLevel resolves a style's heading level through w:basedOn.
func styleLevel(styles map[string]docxStyle, id string) int {
	for range 10 {
		s, ok := styles[id]
		if !ok {
			break
		}
		if s.level > 0 {
			return s.level
		}
		id = s.basedOn
	}
	return headingStyleLevel(id) // a document without styles.xml
}

// walkDOCX streams the main part into blocks.
func walkDOCX(data []byte, part string, styles map[string]docxStyle) (*officeBuilder, error) {
	var b officeBuilder
	d := newXMLDecoder(data)
	var stack []string // local names of the open elements
	skip := 0          // depth inside a skipped subtree
	parent := func() string {
		if len(stack) < 2 {
			return ""
		}
		return stack[len(stack)-2]
	}
	for {
		tok, err := d.Token()
		if err != nil {
			if err := xmlError("DOCX", part, err); err != nil {
				return nil, err
			}
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			stack = append(stack, name)
			if skip > 0 {
				skip++
				continue
			}
			switch name {
			case "Fallback", "del", "instrText", "delText":
				skip = 1
			case "p":
				b.startPara()
			case "pStyle":
				if p := b.para(); p != nil && parent() == "pPr" {
					if l := styleLevel(styles, attrValue(t, "val")); l > 0 {
						p.level = l
					}
				}
			case "outlineLvl":
				if p := b.para(); p != nil && parent() == "pPr" && p.level == 0 {
					if n, err := strconv.Atoi(attrValue(t, "val")); err == nil && n >= 0 && n < 9 {
						p.level = min(n+1, 6)
					}
				}
			case "numPr":
				if p := b.para(); p != nil && p.level == 0 {
					p.list = true
				}
			case "ilvl":
				if p := b.para(); p != nil && parent() == "numPr" {
					if n, err := strconv.Atoi(attrValue(t, "val")); err == nil && n >= 0 && n < 9 {
						p.indent = n
					}
				}
			case "tab":
				if parent() == "r" {
					b.write("\t")
				}
			case "br", "cr":
				if parent() == "r" {
					b.write("\n")
				}
			case "noBreakHyphen":
				b.write("-")
			case "tbl":
				b.startTable()
			case "tr":
				b.startRow()
			case "tc":
				b.startCell()
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if skip > 0 {
				skip--
				continue
			}
			switch t.Name.Local {
			case "p":
				b.endPara()
			case "tc":
				b.endCell()
			case "tr":
				b.endRow()
			case "tbl":
				b.endTable()
			}
		case xml.CharData:
			if skip == 0 && len(stack) > 0 && stack[len(stack)-1] == "t" {
				b.write(string(t))
			}
		}
	}
	b.finish()
	return &b, nil
}
