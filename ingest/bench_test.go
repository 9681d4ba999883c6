package ingest

import (
	"math/rand"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// BenchmarkParse measures LoadBytes (decoding, parsing, no chunking) per
// format, on documents of a typical size; MB/s counts the input bytes.
func BenchmarkParse(b *testing.B) {
	rnd := rand.New(rand.NewSource(3))
	var md, html, docx strings.Builder
	for i := range 40 {
		md.WriteString("## Section " + strings.Repeat("x", i%5) + "\n\n" + prose(rnd, 120) + "\n\n- " + prose(rnd, 12) + "\n- " + prose(rnd, 12) + "\n\n")
		html.WriteString("<h2>Section</h2><p>" + prose(rnd, 120) + "</p><ul><li>" + prose(rnd, 12) + "</li></ul>")
		docx.WriteString(wpara("Heading2", "Section") + wpara("", prose(rnd, 120)) + wpara("", prose(rnd, 12)))
	}
	text := benchProse(100 << 10)
	utf16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(text)
	latinText := strings.ReplaceAll(text, "e ", "\xe9 ")
	docs := []struct {
		name, file string
		data       []byte
	}{
		{"markdown", "a.md", []byte(md.String())},
		{"text", "a.txt", []byte(text)},
		{"text-latin1", "a.txt", []byte(latinText)},
		{"text-utf16", "a.txt", []byte(utf16)},
		{"html", "a.html", []byte("<html><head><title>t</title></head><body>" + html.String() + "</body></html>")},
		{"html-latin1", "a.html", []byte(`<html><head><meta charset="iso-8859-1"></head><body>` + strings.ReplaceAll(html.String(), "e ", "\xe9 ") + "</body></html>")},
		{"pdf-20-pages", "a.pdf", longPDF(b, 20)},
		{"docx", "a.docx", []byte(zipOf(b, map[string]string{"word/document.xml": `<w:document ` + wordNS + `><w:body>` + docx.String() + `</w:body></w:document>`}))},
	}
	for _, d := range docs {
		b.Run(d.name, func(b *testing.B) {
			if _, err := DefaultLoader().LoadBytes(File{Path: d.file}, d.data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(d.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DefaultLoader().LoadBytes(File{Path: d.file}, d.data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(len(d.data))/1024, "KiB/doc")
		})
	}
}
