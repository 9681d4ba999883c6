package ingest

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// odtProperties maps the elements of an ODT's meta.xml to metadata keys.
var odtProperties = map[string]string{
	"title": "title", "subject": "subject", "description": "description",
	"initial-creator": "author", "creator": "last_modified_by", "keyword": "keywords",
	"creation-date": "created", "date": "modified", "language": "language",
}

// parseODT reads an OpenDocument text document (ISO/IEC 26300): a zip
// archive (see openZip) whose content.xml holds the body: text:h headings
// with their outline level, text:p paragraphs, text:list items (nesting
// as indentation) and table:table tables, one row per line. Annotations,
// tracked deletions and note citations are left out; meta.xml gives the
// metadata.
func parseODT(src []byte, lim limits) (parsed, error) {
	zr, err := openZip(src, "ODT", lim)
	if err != nil {
		return parsed{}, err
	}
	body, ok, err := zr.read("content.xml")
	if err != nil {
		return parsed{}, err
	}
	if !ok {
		return parsed{}, fmt.Errorf("%w: the zip archive has no content.xml: not an ODT document", ErrCorrupt)
	}
	var meta map[string]string
	if data, ok, err := zr.read("meta.xml"); err != nil {
		return parsed{}, err
	} else if ok {
		meta = readProperties(data, odtProperties)
	}
	var b officeBuilder
	d := newXMLDecoder(body)
	skip := 0
	lists := 0 // text:list nesting
	items := 0 // text:list-item nesting
	for {
		tok, err := d.Token()
		if err != nil {
			if err := xmlError("ODT", "content.xml", err); err != nil {
				return parsed{}, err
			}
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				continue
			}
			switch t.Name.Local {
			case "annotation", "tracked-changes", "note-citation", "automatic-styles", "font-face-decls", "sequence-decls":
				skip = 1
			case "h":
				p := b.startPara()
				p.level = 1
				if n, err := strconv.Atoi(attrValue(t, "outline-level")); err == nil && n >= 1 {
					p.level = min(n, 6)
				}
			case "p":
				p := b.startPara()
				if items > 0 {
					p.list, p.indent = true, max(lists-1, 0)
				}
			case "list":
				lists++
			case "list-item":
				items++
			case "s":
				n, err := strconv.Atoi(attrValue(t, "c"))
				if err != nil || n < 1 {
					n = 1
				}
				b.write(strings.Repeat(" ", min(n, 64)))
			case "tab":
				b.write("\t")
			case "line-break":
				b.write("\n")
			case "table":
				b.startTable()
			case "table-row":
				b.startRow()
			case "table-cell":
				b.startCell()
			}
		case xml.EndElement:
			if skip > 0 {
				skip--
				continue
			}
			switch t.Name.Local {
			case "h", "p":
				b.endPara()
			case "list":
				lists--
			case "list-item":
				items--
			case "table-cell":
				b.endCell()
			case "table-row":
				b.endRow()
			case "table":
				b.endTable()
			}
		case xml.CharData:
			if skip == 0 {
				b.write(string(t))
			}
		}
	}
	b.finish()
	return parsed{blocks: b.out, title: b.title, meta: meta}, nil
}
