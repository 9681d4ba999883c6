package ingest

import (
	"bytes"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

// pdfOptions vary the test PDF.
type pdfOptions struct {
	userPassword  string // encrypt with this user password
	ownerPassword string // encrypt (with an empty user password unless set)
	noText        bool   // only a drawing
}

// testPDF writes a real three-page PDF with fpdf: a title, section
// headings, paragraphs, a table on page 2 and document properties.
func testPDF(t testing.TB, o pdfOptions) []byte {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetTitle("Kafka Operations Handbook", true)
	p.SetAuthor("Ada Lovelace", true)
	p.SetSubject("Running Kafka", true)
	p.SetKeywords("kafka, operations", true)
	p.SetCreator("ragpipe tests", true)
	p.SetCreationDate(time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC))
	p.SetModificationDate(time.Date(2024, 3, 6, 8, 0, 0, 0, time.UTC))
	if o.userPassword != "" || o.ownerPassword != "" {
		p.SetProtection(fpdf.CnProtectPrint, o.userPassword, o.ownerPassword)
	}
	p.SetMargins(20, 20, 20)
	heading := func(size float64, s string) {
		p.SetFont("Helvetica", "B", size)
		p.MultiCell(0, size*0.5, s, "", "L", false)
		p.Ln(3)
	}
	para := func(s string) {
		p.SetFont("Helvetica", "", 11)
		p.MultiCell(0, 5.5, s, "", "L", false)
		p.Ln(4)
	}
	p.AddPage()
	if o.noText {
		p.Rect(20, 20, 100, 50, "D")
		return pdfBytes(t, p)
	}
	heading(22, "Kafka Operations Handbook")
	para("This handbook explains how to run the brokers that carry every document through the pipeline. " +
		"It covers partitions, retention and consumer lag, with the commands an operator needs on a bad day.")
	heading(16, "Partitions")
	para("A topic is split into partitions. Each partition is an ordered log, and the records of one document " +
		"share a key, so they land on one partition and keep their order.")
	p.AddPage()
	heading(16, "Retention")
	para("Retention decides how long records stay on disk. The table lists the settings of the pipeline topics.")
	p.SetFont("Helvetica", "B", 11)
	for _, h := range []string{"Topic", "Partitions", "Retention"} {
		p.CellFormat(50, 7, h, "1", 0, "L", false, 0, "")
	}
	p.Ln(-1)
	p.SetFont("Helvetica", "", 11)
	for _, row := range [][]string{{"documents.parsed", "12", "7 days"}, {"chunks.embedded", "12", "7 days"}, {"documents.dlq", "3", "30 days"}} {
		for _, c := range row {
			p.CellFormat(50, 7, c, "1", 0, "L", false, 0, "")
		}
		p.Ln(-1)
	}
	p.Ln(4)
	para("Compacted topics keep the newest record of each key instead.")
	p.AddPage()
	heading(16, "Consumer Lag")
	para("Lag is the distance between the newest offset and the committed one. A growing lag means the " +
		"workers cannot keep up: add workers to the group, up to the number of partitions.")
	return pdfBytes(t, p)
}

func pdfBytes(t testing.TB, p *fpdf.Fpdf) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// longPDF writes a PDF of the given number of pages, each with a heading
// and paragraphs of prose, for benchmarks.
func longPDF(t testing.TB, pages int) []byte {
	t.Helper()
	rnd := rand.New(rand.NewSource(7))
	p := fpdf.New("P", "mm", "A4", "")
	p.SetMargins(20, 20, 20)
	for i := range pages {
		p.AddPage()
		p.SetFont("Helvetica", "B", 16)
		p.MultiCell(0, 8, "Section "+strconv.Itoa(i+1), "", "L", false)
		p.SetFont("Helvetica", "", 11)
		for range 4 {
			p.MultiCell(0, 5.5, prose(rnd, 90), "", "L", false)
			p.Ln(3)
		}
	}
	return pdfBytes(t, p)
}

// twoColumnPDF writes a page with a title across it and two columns of
// prose below, the way papers are set.
func twoColumnPDF(t testing.TB, left, right string) []byte {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetMargins(20, 20, 20)
	p.AddPage()
	p.SetFont("Helvetica", "B", 18)
	p.MultiCell(0, 9, "A Study of Two Columns", "", "C", false)
	p.Ln(4)
	top := p.GetY()
	p.SetFont("Helvetica", "", 10)
	p.SetLeftMargin(20)
	p.SetXY(20, top)
	p.MultiCell(80, 5, left, "", "L", false)
	p.SetLeftMargin(110)
	p.SetXY(110, top)
	p.MultiCell(80, 5, right, "", "L", false)
	return pdfBytes(t, p)
}

// headedPDF writes pages with a running header and a numbered footer,
// and a form XObject (a template) holding text on the last page.
func headedPDF(t testing.TB, pages int) []byte {
	t.Helper()
	rnd := rand.New(rand.NewSource(11))
	p := fpdf.New("P", "mm", "A4", "")
	p.SetHeaderFunc(func() {
		p.SetFont("Helvetica", "I", 9)
		p.CellFormat(0, 8, "Kafka Operations Handbook", "", 1, "R", false, 0, "")
	})
	p.SetFooterFunc(func() {
		p.SetY(-15)
		p.SetFont("Helvetica", "", 9)
		p.CellFormat(0, 8, "Page "+strconv.Itoa(p.PageNo()), "", 0, "C", false, 0, "")
	})
	stamp := p.CreateTemplate(func(tp *fpdf.Tpl) {
		tp.SetFont("Helvetica", "", 11)
		tp.Text(20, 200, "Text drawn inside a form XObject.")
	})
	for i := range pages {
		p.AddPage()
		p.SetFont("Helvetica", "", 11)
		p.MultiCell(0, 5.5, "Body of page "+strconv.Itoa(i+1)+". "+prose(rnd, 60), "", "L", false)
	}
	p.UseTemplate(stamp)
	return pdfBytes(t, p)
}
