package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest/sample"
)

// A mixed folder on real Kafka: a PDF, Latin-1 HTML, UTF-16 text,
// Markdown with front matter and an extensionless README are ingested
// with their metadata (the PDF's pages per chunk); a truncated PDF and a
// DOCX that is not a zip archive are reported and get a DocumentFailed.
func TestIngestFormatsOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")

	pdf, err := fs.ReadFile(sample.FS(), "operations/on-call-handbook.pdf")
	if err != nil {
		t.Fatal(err)
	}
	utf16 := []byte{0xff, 0xfe}
	for _, r := range "Grüße aus Köln, in UTF-16.\n\nA second paragraph." {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"handbook.pdf":  pdf,
		"truncated.pdf": pdf[:len(pdf)/2],
		"letter.docx":   []byte("this is not a zip archive"),
		"latin1.html":   []byte(`<html><head><meta charset="iso-8859-1"><title>Caf` + "\xe9" + `</title></head><body><p>Gr` + "\xfc\xdf" + `e aus K` + "\xf6" + `ln</p></body></html>`),
		"utf16.txt":     utf16,
		"front.md":      []byte("---\ntitle: Front Matter\nteam: search\ntags: [a, b]\n---\n\n# Front Matter\n\nBody text of the note.\n"),
		"README":        []byte("# Read Me\n\nAn extensionless file.\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := run(t, 2*time.Minute, "ingest", "--brokers", brokers, dir)
	if code := exitStatus(err); code != 2 {
		t.Fatalf("ingest with two bad files: exit %d (%v), want 2 (some failed, the rest ingested)\n%s\n%s", code, err, out, stderr)
	}
	for _, want := range []string{"truncated.pdf", "truncated PDF", "letter.docx", "not a zip archive"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if docs, _ := parseIngested(t, out); docs != 5 {
		t.Fatalf("want 5 documents ingested, got %d\n%s\n%s", docs, out, stderr)
	}

	failed := map[string]string{}
	for _, r := range readTopic(t, brokers, event.TopicFailed, 30*time.Second, atLeast(2)) {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			t.Fatal(err)
		}
		failed[m.GetDocId()] = m.GetErrorMessage()
	}
	if !strings.Contains(failed["truncated.pdf"], "corrupt") || !strings.Contains(failed["letter.docx"], "corrupt") || len(failed) != 2 {
		t.Errorf("DocumentFailed: %v", failed)
	}

	texts := map[string]string{}
	meta := map[string]map[string]string{}
	pages := map[string]bool{}
	for _, r := range readTopic(t, brokers, event.TopicParsed, 30*time.Second, atLeast(5)) {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		texts[m.GetDocId()] += m.GetText() + "\n"
		meta[m.GetDocId()] = m.GetMetadata()
		if m.GetDocId() == "handbook.pdf" {
			if m.GetMetadata()["page"] == "" || m.GetMediaType() != "application/pdf" {
				t.Errorf("PDF chunk %d: metadata %v, media type %q", m.GetChunkIndex(), m.GetMetadata(), m.GetMediaType())
			}
			pages[m.GetMetadata()["page"]] = true
		}
	}
	if len(pages) < 3 || meta["handbook.pdf"]["author"] != "ragpipe operations" {
		t.Errorf("PDF pages %v, metadata %v", pages, meta["handbook.pdf"])
	}
	if m := meta["front.md"]; m["team"] != "search" || m["tags"] != "a, b" {
		t.Errorf("front matter metadata %v", m)
	}
	for doc, want := range map[string]string{"latin1.html": "Grüße aus Köln", "utf16.txt": "Grüße aus Köln", "README": "An extensionless file.", "handbook.pdf": "Severity | Example"} {
		if !strings.Contains(texts[doc], want) {
			t.Errorf("%s: text lacks %q:\n%s", doc, want, texts[doc])
		}
	}
}
