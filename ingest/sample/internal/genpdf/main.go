// Command genpdf writes the sample corpus's PDF, an on-call handbook of
// three pages with headings, paragraphs and a table, with fpdf:
//
//	go generate ./ingest/sample
//
// The output is deterministic (fixed dates, no random IDs), so the
// committed file can be checked against it (see main_test.go).
package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/go-pdf/fpdf"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genpdf OUTPUT.pdf")
		os.Exit(2)
	}
	data, err := build()
	if err == nil {
		err = os.WriteFile(os.Args[1], data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genpdf:", err)
		os.Exit(1)
	}
}

// section is a heading and its paragraphs.
type section struct {
	heading string
	paras   []string
}

func build() ([]byte, error) {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(true)
	p.SetCatalogSort(true) // resources in a fixed order: the same bytes every run
	p.SetTitle("On-Call Handbook for the Ingestion Pipeline", true)
	p.SetAuthor("ragpipe operations", true)
	p.SetSubject("Paging, severities and the first fifteen minutes of an incident", true)
	p.SetKeywords("on-call, incidents, severity, paging", true)
	p.SetCreator("ragpipe genpdf", true)
	date := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	p.SetCreationDate(date)
	p.SetModificationDate(date)
	p.SetMargins(22, 22, 22)
	p.SetAutoPageBreak(true, 22)

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
	heading(22, "On-Call Handbook for the Ingestion Pipeline")
	para("This handbook is for the engineer who carries the pager for the document ingestion pipeline. " +
		"It says when to page, how to judge the severity of an incident, and what to look at in the first " +
		"fifteen minutes, before anyone has a theory.")
	for _, s := range []section{
		{"When the Pager Goes Off", []string{
			"Acknowledge the page within five minutes, even if you cannot act yet: an unacknowledged page escalates " +
				"to the secondary, and two people debugging the same symptom without talking waste the first half hour.",
			"Open the pipeline dashboard before the logs. Consumer lag per stage, the dead-letter rate and the embedding " +
				"server's error rate tell in one glance whether documents are slow, failing, or not arriving at all.",
		}},
		{"The First Fifteen Minutes", []string{
			"Write down the time, the alert and what you see in the incident channel. Check whether a deploy, a broker " +
				"restart or a change of embedding model happened in the last hour; most incidents start with a change.",
			"If lag grows on one partition only, suspect a hot key or a poisoned document; if it grows everywhere, suspect " +
				"the embedding servers or the brokers. Do not restart workers to see what happens: a restart hides the evidence.",
		}},
	} {
		heading(16, s.heading)
		for _, t := range s.paras {
			para(t)
		}
	}

	p.AddPage()
	heading(16, "Severity Levels")
	para("Severity decides who is woken up and how often the incident channel hears from you. When in doubt, " +
		"choose the higher level: lowering it later costs nothing.")
	widths := []float64{28, 62, 38, 38}
	row := func(style string, cells ...string) {
		p.SetFont("Helvetica", style, 10)
		for i, c := range cells {
			p.CellFormat(widths[i], 7, c, "1", 0, "L", false, 0, "")
		}
		p.Ln(-1)
	}
	row("B", "Severity", "Example", "Response", "Updates")
	row("", "SEV1", "no document is indexed", "page now", "every 30 min")
	row("", "SEV2", "one tenant's documents fail", "page now", "every hour")
	row("", "SEV3", "lag above one hour", "next morning", "daily")
	row("", "SEV4", "a single document in the DLQ", "ticket", "none")
	p.Ln(5)
	para("A document in the dead-letter queue is never an emergency by itself. Many of them in a short time are: " +
		"they point at a bad deploy, a changed input format or an embedding server that rejects what it used to accept.")

	p.AddPage()
	heading(16, "Handing Over")
	para("At the end of your shift, write a short handover: what paged, what you changed, what is still open and " +
		"which alerts you silenced and until when. A silenced alert without an end date is a future outage.")
	para("After a SEV1 or SEV2, schedule a blameless review within a week. The review asks how the pipeline let the " +
		"problem through and what would have shown it earlier, not who pressed which button.")

	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
