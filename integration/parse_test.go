package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest/sample"
)

// The parse stage on real Kafka, as processes: `submit` a mixed folder
// (a PDF, Latin-1 HTML, UTF-16 text, Markdown with front matter, a text
// file over the 4 MiB inline limit that travels through the blob store, a
// corrupt PDF, and a document too slow to parse within --parse-timeout);
// two `parse` workers share the group, `embed` and `index` follow. Every
// good document is indexed and searchable; the corrupt and the slow one are
// dead-lettered after 3 attempts with a DocumentFailed of stage parse, and
// the workers go on.
func TestParseStageOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	pdf, err := fs.ReadFile(sample.FS(), "operations/on-call-handbook.pdf")
	if err != nil {
		t.Fatal(err)
	}
	utf16 := []byte{0xff, 0xfe}
	for _, r := range "Grüße aus Köln, in UTF-16.\n\nA second paragraph about replicas." {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	bigPara := strings.Repeat("The blob store carries documents larger than the inline limit of documents.raw. ", 64) + "\n\n"
	slowPara := strings.Repeat("# Section\n\nA paragraph of a very long document that takes its parser a long time.\n\n", 1)
	dir := t.TempDir()
	files := map[string][]byte{
		"handbook.pdf": pdf,
		"corrupt.pdf":  append(append([]byte{}, pdf[:len(pdf)/3]...), []byte("garbage")...),
		"latin1.html":  []byte(`<html><head><meta charset="iso-8859-1"><title>Caf` + "\xe9" + `</title></head><body><p>Gr` + "\xfc\xdf" + `e aus K` + "\xf6" + `ln: leader election</p></body></html>`),
		"utf16.txt":    utf16,
		"front.md":     []byte("---\ntitle: Front Matter\nteam: search\n---\n\n# Front Matter\n\nConsumer group rebalancing notes.\n"),
		"big.txt":      []byte(strings.Repeat(bigPara, 1000)),     // ~5 MB: through the blob store
		"slow.md":      []byte(strings.Repeat(slowPara, 600_000)), // ~50 MB of Markdown: over --parse-timeout
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, blobs := t.TempDir(), t.TempDir()
	out := mustRun(t, 2*time.Minute, "submit", "--brokers", brokers, "--blobs", blobs, "--max-file-size", "100000000", dir)
	if !strings.Contains(out, "submitted 7 document(s)") || !strings.Contains(out, "2 in the blob store") {
		t.Fatalf("submit: %s", out)
	}
	parseArgs := []string{"parse", "--brokers", brokers, "--group", "it-parse", "--blobs", blobs,
		"--max-file-size", "100000000", "--parse-timeout", "400ms", "--max-tokens", "64"}
	p1 := start(t, "parse-1", parseArgs...)
	p2 := start(t, "parse-2", parseArgs...)
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-parse-embed")
	indexP := start(t, "index", "index", "--brokers", brokers, "--group", "it-parse-index", "--data", data)

	good := map[string]bool{"handbook.pdf": true, "latin1.html": true, "utf16.txt": true, "front.md": true, "big.txt": true}
	bad := map[string]bool{"corrupt.pdf": true, "slow.md": true}
	indexed := readTopic(t, brokers, event.TopicIndexed, 3*time.Minute, func(rs []*kgo.Record) bool {
		seen := map[string]bool{}
		for _, r := range rs {
			if _, doc, err := event.ParseKey(r.Key); err == nil && good[doc] {
				seen[doc] = true
			}
		}
		return len(seen) == len(good)
	})
	if len(indexed) == 0 {
		t.Fatal("nothing indexed")
	}
	dlq := readTopic(t, brokers, event.TopicDLQ, 2*time.Minute, atLeast(len(bad)))
	if len(dlq) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dlq), len(bad))
	}
	for _, d := range dlq {
		_, doc, _ := event.ParseKey(d.Key)
		if !bad[doc] {
			t.Fatalf("dead letter for %s", doc)
		}
		for name, want := range map[string]string{event.HeaderDLQStage: "parse", event.HeaderDLQAttempts: "3",
			event.HeaderDLQErrorClass: "record", event.HeaderDLQTopic: event.TopicRaw} {
			if got, _ := event.Header(d, name); got != want {
				t.Errorf("%s: %s = %q, want %q", doc, name, got, want)
			}
		}
		if msg, _ := event.Header(d, event.HeaderDLQErrorMessage); doc == "slow.md" && !strings.Contains(msg, "parse-timeout") {
			t.Errorf("slow.md: error %q does not name the timeout", msg)
		}
	}
	failedRecs := readTopic(t, brokers, event.TopicFailed, 30*time.Second, atLeast(len(bad)))
	for _, r := range failedRecs {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bad[m.GetDocId()] || m.GetStage() != "parse" {
			t.Fatalf("DocumentFailed %+v", m)
		}
	}
	// The parsed chunks carry the documents' metadata.
	parsed := readTopic(t, brokers, event.TopicParsed, 30*time.Second, atLeast(1))
	var sawTeam, sawPage bool
	for _, r := range parsed {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		sawTeam = sawTeam || (m.GetDocId() == "front.md" && m.GetMetadata()["team"] == "search")
		sawPage = sawPage || (m.GetDocId() == "handbook.pdf" && m.GetMetadata()["page"] != "")
	}
	if !sawTeam || !sawPage {
		t.Fatalf("metadata lost: front matter %v, PDF page %v", sawTeam, sawPage)
	}
	for _, q := range []struct{ query, doc string }{{"leader election Köln", "latin1.html"}, {"replicas UTF-16", "utf16.txt"}, {"blob store inline limit", "big.txt"}} {
		if res := mustRun(t, time.Minute, "search", "--data", data, "--k", "3", q.query); !strings.Contains(res, q.doc) {
			t.Errorf("search %q does not find %s:\n%s", q.query, q.doc, res)
		}
	}
	for _, p := range []*proc{p1, p2, embedP, indexP} {
		if p.exited() {
			t.Fatalf("%s exited: %v", p.name, p.err)
		}
		p.stop(30 * time.Second)
	}
}
