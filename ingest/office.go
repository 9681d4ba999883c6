package ingest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
)

// officeBuilder turns the paragraphs and tables of a word-processing
// document (DOCX, ODT), met in document order while streaming its XML,
// into blocks. Paragraphs may nest (a text box or a footnote inside a
// paragraph): each is a block of its own. Tables are rendered one row per
// line, cells separated by " | "; a table inside a cell is flattened into
// the cell's text.
type officeBuilder struct {
	heads  headingStack
	out    []Block
	title  string
	paras  []*officePara
	tables []*officeTable
}

type officePara struct {
	text    strings.Builder
	level   int    // heading level, 0 for body text
	list    bool   // a list item
	indent  int    // list nesting depth, from 0
	ordered string // an ODT list marker, "" for "- "
}

type officeTable struct {
	rows [][]string
	row  []string
	cell *strings.Builder
}

func (b *officeBuilder) startPara() *officePara {
	p := &officePara{}
	b.paras = append(b.paras, p)
	return p
}

// para returns the innermost open paragraph, or nil.
func (b *officeBuilder) para() *officePara {
	if len(b.paras) == 0 {
		return nil
	}
	return b.paras[len(b.paras)-1]
}

// write adds text to the open paragraph, if any.
func (b *officeBuilder) write(s string) {
	if p := b.para(); p != nil {
		p.text.WriteString(s)
	}
}

// endPara closes the innermost paragraph: into the open table cell, or as
// a block.
func (b *officeBuilder) endPara() {
	p := b.para()
	if p == nil {
		return
	}
	b.paras = b.paras[:len(b.paras)-1]
	t := tidyLines(p.text.String())
	if t == "" {
		return
	}
	if tb := b.table(); tb != nil && tb.cell != nil && len(b.paras) == 0 {
		if tb.cell.Len() > 0 {
			tb.cell.WriteByte(' ')
		}
		tb.cell.WriteString(collapseSpace(t))
		return
	}
	switch {
	case p.level > 0:
		t = collapseSpace(t)
		path := b.heads.push(p.level, t)
		b.out = append(b.out, Block{Kind: KindHeading, Text: t, Heading: path, Level: min(p.level, 6)})
		if p.level == 1 && b.title == "" {
			b.title = t
		}
	case p.list:
		marker := "- "
		if p.ordered != "" {
			marker = p.ordered
		}
		b.out = append(b.out, Block{Kind: KindListItem, Text: strings.Repeat("  ", p.indent) + marker + t, Heading: b.heads.path()})
	default:
		b.out = append(b.out, Block{Kind: KindParagraph, Text: t, Heading: b.heads.path()})
	}
}

func (b *officeBuilder) table() *officeTable {
	if len(b.tables) == 0 {
		return nil
	}
	return b.tables[len(b.tables)-1]
}

func (b *officeBuilder) startTable() { b.tables = append(b.tables, &officeTable{}) }

func (b *officeBuilder) startRow() {
	if t := b.table(); t != nil {
		t.row = nil
	}
}

func (b *officeBuilder) startCell() {
	if t := b.table(); t != nil {
		t.cell = &strings.Builder{}
	}
}

func (b *officeBuilder) endCell() {
	if t := b.table(); t != nil && t.cell != nil {
		t.row = append(t.row, t.cell.String())
		t.cell = nil
	}
}

func (b *officeBuilder) endRow() {
	if t := b.table(); t != nil {
		if row := strings.Join(t.row, " | "); strings.Trim(row, " |") != "" {
			t.rows = append(t.rows, t.row)
		}
		t.row = nil
	}
}

func (b *officeBuilder) endTable() {
	t := b.table()
	if t == nil {
		return
	}
	b.tables = b.tables[:len(b.tables)-1]
	rows := make([]string, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, strings.Join(r, " | "))
	}
	text := strings.Join(rows, "\n")
	if text == "" {
		return
	}
	if outer := b.table(); outer != nil && outer.cell != nil {
		if outer.cell.Len() > 0 {
			outer.cell.WriteByte(' ')
		}
		outer.cell.WriteString(strings.ReplaceAll(text, "\n", " ; "))
		return
	}
	b.out = append(b.out, Block{Kind: KindTable, Text: text, Heading: b.heads.path()})
}

// finish closes what a truncated document left open.
func (b *officeBuilder) finish() {
	for len(b.paras) > 0 {
		b.endPara()
	}
	for len(b.tables) > 0 {
		b.endCell()
		b.endRow()
		b.endTable()
	}
}

// tidyLines trims each line, drops empty ones and collapses the spaces
// inside lines (tabs become spaces).
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = collapseSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// newXMLDecoder returns a decoder for an office XML part. encoding/xml
// streams tokens (no recursion, so any depth is safe) and expands no
// entities but the predefined ones (no "billion laughs").
func newXMLDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charset.NewReaderLabel
	return d
}

// xmlError wraps an XML syntax error in ErrCorrupt; io.EOF is no error.
func xmlError(kind, part string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("%w: %s part %s is not well-formed XML: %v", ErrCorrupt, kind, part, err)
}

func attrValue(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// readProperties reads a flat properties part (DOCX docProps/core.xml, ODT
// meta.xml): the text of each element whose local name is in keys goes to
// the metadata under keys[name]; repeated elements are joined with ", ".
func readProperties(data []byte, keys map[string]string) map[string]string {
	var meta map[string]string
	values := map[string][]string{}
	var order []string
	d := newXMLDecoder(data)
	var cur string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			break // properties are best effort
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if k, ok := keys[t.Name.Local]; ok {
				cur = k
				text.Reset()
			}
		case xml.CharData:
			if cur != "" && text.Len() < maxMetaValueLen {
				text.Write(t)
			}
		case xml.EndElement:
			if cur != "" && keys[t.Name.Local] == cur {
				if v := strings.TrimSpace(text.String()); v != "" {
					if _, seen := values[cur]; !seen {
						order = append(order, cur)
					}
					values[cur] = append(values[cur], v)
				}
				cur = ""
			}
		}
	}
	for _, k := range order {
		setMeta(&meta, k, strings.Join(values[k], ", "))
	}
	return meta
}
