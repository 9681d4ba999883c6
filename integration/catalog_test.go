package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

var unchangedRe = regexp.MustCompile(`; (\d+) unchanged; `)

// ingestRun runs `ragpipe ingest` and returns the documents, chunks and
// unchanged files of its summary.
func ingestRun(t *testing.T, args ...string) (docs, chunks, unchanged int) {
	t.Helper()
	out := mustRun(t, time.Minute, append([]string{"ingest"}, args...)...)
	docs, chunks = parseIngested(t, out)
	m := unchangedRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no unchanged count in the summary: %q", out)
	}
	unchanged, _ = strconv.Atoi(m[1])
	return docs, chunks, unchanged
}

// endOffsets returns the end offsets of topic's partitions and their sum,
// the records it ever received.
func endOffsets(t *testing.T, brokers, topic string) (map[int32]int64, int64) {
	t.Helper()
	ends, err := kadm.NewClient(client(t, brokers)).ListEndOffsets(context.Background(), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	by := map[int32]int64{}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { by[o.Partition] = o.Offset; n += o.Offset })
	return by, n
}

// catalogState reads documents.catalog until cond holds for its state
// (key → document hash; tombstones remove), or the timeout.
func catalogState(t *testing.T, brokers string, timeout time.Duration, cond func(map[string]string) bool) map[string]string {
	t.Helper()
	state := map[string]string{}
	readTopic(t, brokers, event.TopicCatalog, timeout, func(rs []*kgo.Record) bool {
		clear(state)
		for _, r := range rs {
			if r.Value == nil {
				delete(state, string(r.Key))
				continue
			}
			e, err := event.DecodeCatalogEntry(r)
			if err != nil {
				t.Fatal(err)
			}
			state[string(r.Key)] = e.GetDocumentHash()
		}
		return cond(state)
	})
	return state
}

// parsedSince returns the records of documents.parsed at or after the
// end offsets ends (of endOffsets); there must be want of them.
func parsedSince(t *testing.T, brokers string, ends map[int32]int64, want int) []*kgo.Record {
	t.Helper()
	since := func(rs []*kgo.Record) []*kgo.Record {
		var out []*kgo.Record
		for _, r := range rs {
			if r.Offset >= ends[r.Partition] {
				out = append(out, r)
			}
		}
		return out
	}
	recs := since(readTopic(t, brokers, event.TopicParsed, time.Minute, func(rs []*kgo.Record) bool { return len(since(rs)) >= want }))
	if len(recs) != want {
		t.Fatalf("documents.parsed has %d new records, want %d", len(recs), want)
	}
	return recs
}

// Unchanged content publishes nothing: once the index stage has cataloged
// every document, an ingest of the same folder produces no record; an
// edited file (and not a touched one) is published; --force publishes
// everything; a deleted document is published again. Once with the index
// stage at least once, once in exactly-once mode (its catalog entries in
// transactions, each partition of documents.catalog ending in a marker).
func TestUnchangedContentPublishesNothingOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	t.Run("at-least-once", func(t *testing.T) { testUnchangedContent(t, brokers) })
	t.Run("exactly-once", func(t *testing.T) {
		testUnchangedContent(t, brokers, "--exactly-once", "--transactional-id", "it-catalog-index-eos")
	})
}

func testUnchangedContent(t *testing.T, brokers string, indexArgs ...string) {
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	const n = 6
	corpus := t.TempDir()
	for i := range n {
		text := fmt.Sprintf("# Note %d\n\nParagraph %d about topic %d, long enough for a chunk or two.\n\n## More\n\nAnother paragraph of note %d.\n", i, i, i*7, i)
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("note%d.md", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startGpusim(t)
	start(t, "embed", "embed", "--brokers", brokers, "--group", "it-catalog-embed-"+t.Name(), "--embedder", url, "--model", "gpusim")
	start(t, "index", append([]string{"index", "--brokers", brokers, "--group", "it-catalog-index-" + t.Name(), "--data", t.TempDir()}, indexArgs...)...)
	args := []string{"--brokers", brokers, "--max-tokens", "24", "--overlap", "0"}

	docs, chunks, unchanged := ingestRun(t, append(args, corpus)...)
	if docs != n || unchanged != 0 || chunks < n {
		t.Fatalf("first ingest: %d documents, %d chunks, %d unchanged", docs, chunks, unchanged)
	}
	indexed := func(min int) []*kgo.Record {
		recs := readTopic(t, brokers, event.TopicIndexed, 2*time.Minute, atLeast(min))
		if len(recs) < min {
			t.Fatalf("vectors.indexed has %d records, want %d", len(recs), min)
		}
		return recs
	}
	indexed(n)
	cat := catalogState(t, brokers, time.Minute, func(s map[string]string) bool { return len(s) == n })
	if len(cat) != n {
		t.Fatalf("documents.catalog has %d entries, want %d", len(cat), n)
	}

	// The same folder again: nothing is produced.
	_, before := endOffsets(t, brokers, event.TopicParsed)
	if before != int64(chunks) {
		t.Fatalf("documents.parsed ends at %d, ingest reported %d chunks", before, chunks)
	}
	docs, got, unchanged := ingestRun(t, append(args, corpus)...)
	if docs != 0 || got != 0 || unchanged != n {
		t.Fatalf("second ingest: %d documents, %d chunks, %d unchanged; want 0, 0, %d", docs, got, unchanged, n)
	}
	ends, after := endOffsets(t, brokers, event.TopicParsed)
	if after != before {
		t.Fatalf("an unchanged ingest added %d records to documents.parsed", after-before)
	}
	t.Logf("%d documents, %d chunks cataloged; a second ingest: %d unchanged, documents.parsed still ends at %d", n, chunks, unchanged, after)

	// One file edited, another only touched: only the edited one goes.
	edited := filepath.Join(corpus, "note1.md")
	if err := os.WriteFile(edited, []byte("# Note 1, edited\n\nNew content for note one.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(corpus, "note2.md"), later, later); err != nil {
		t.Fatal(err)
	}
	docs, got, unchanged = ingestRun(t, append(args, corpus)...)
	if docs != 1 || unchanged != n-1 || got < 1 {
		t.Fatalf("after an edit and a touch: %d documents (%d chunks), %d unchanged; want 1, %d", docs, got, unchanged, n-1)
	}
	for _, r := range parsedSince(t, brokers, ends, got) {
		if string(r.Key) != string(event.Key("default", "note1.md")) {
			t.Fatalf("published a chunk of %s, only note1.md changed", r.Key)
		}
	}
	if _, after := endOffsets(t, brokers, event.TopicParsed); after != before+int64(got) {
		t.Fatalf("documents.parsed grew by %d records, ingest reported %d chunks", after-before, got)
	}
	chunks += got
	indexed(n + 1)

	// --force publishes everything.
	docs, got, unchanged = ingestRun(t, append(args, "--force", corpus)...)
	if docs != n || unchanged != 0 {
		t.Fatalf("--force: %d documents, %d unchanged; want %d, 0", docs, unchanged, n)
	}
	if _, after := endOffsets(t, brokers, event.TopicParsed); after != int64(chunks+got) {
		t.Fatalf("--force: documents.parsed ends at %d, want %d", after, chunks+got)
	}
	chunks += got
	// Every forced version announced again before the delete below, so
	// that no re-announcement can land after its tombstone.
	indexed(2*n + 1)

	// A deleted document leaves the catalog (a tombstone), so the same
	// content ingested again is published again.
	mustRun(t, time.Minute, "delete", "--brokers", brokers, "note3.md")
	key := string(event.Key("default", "note3.md"))
	cat = catalogState(t, brokers, time.Minute, func(s map[string]string) bool { _, ok := s[key]; return !ok && len(s) == n-1 })
	if _, ok := cat[key]; ok || len(cat) != n-1 {
		t.Fatalf("after the delete the catalog has %d entries (note3.md in it: %v)", len(cat), ok)
	}
	ends, _ = endOffsets(t, brokers, event.TopicParsed)
	docs, got, unchanged = ingestRun(t, append(args, corpus)...)
	if docs != 1 || unchanged != n-1 {
		t.Fatalf("after the delete: %d documents, %d unchanged; want 1, %d", docs, unchanged, n-1)
	}
	for _, r := range parsedSince(t, brokers, ends, got) {
		if string(r.Key) != key {
			t.Fatalf("published a chunk of %s, only note3.md was deleted", r.Key)
		}
	}
	if !strings.Contains(mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1"),
		event.TopicCatalog) {
		t.Fatal("topics apply does not list documents.catalog")
	}
}

// A cluster whose topics predate the catalog: ingest warns once and
// publishes every file; it does not fail.
func TestIngestWithoutCatalogTopicPublishesEverythingOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	// Tests after this one may run an index stage without applying the
	// topics again.
	t.Cleanup(func() {
		mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1", "--allow-drift")
	})
	if _, err := kadm.NewClient(client(t, brokers)).DeleteTopics(context.Background(), event.TopicCatalog); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "documents.catalog to go", func() bool {
		td, err := kadm.NewClient(client(t, brokers)).ListTopics(context.Background(), event.TopicCatalog)
		return err == nil && (!td.Has(event.TopicCatalog) || td[event.TopicCatalog].Err != nil)
	})
	corpus := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("d%d.md", i)), []byte(fmt.Sprintf("# D%d\n\ntext %d\n", i, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		out, errs, err := run(t, time.Minute, "ingest", "--brokers", brokers, corpus)
		if err != nil {
			t.Fatalf("ingest failed without the catalog topic: %v\n%s\n%s", err, out, errs)
		}
		if docs, _ := parseIngested(t, out); docs != 3 {
			t.Fatalf("published %d of 3 documents:\n%s", docs, out)
		}
		if c := strings.Count(errs, event.TopicCatalog); c != 1 || !strings.Contains(errs, "warning") {
			t.Fatalf("want one warning naming %s on stderr, got:\n%s", event.TopicCatalog, errs)
		}
	}
}
