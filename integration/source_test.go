package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// `ingest --source`: ingesting a folder and then one of its sub-folders,
// and again after a touch, gives each document one id and one version;
// `--sync` deletes what left the disk.
func TestIngestSourceIdentityOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	data := t.TempDir()
	corpus := filepath.Join(t.TempDir(), "corpus")
	writeCorpus(t, corpus)
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--data", data, "--source", "handbook", corpus))
	zebrafish := filepath.Join(corpus, "extra", "zebrafish.md")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(zebrafish, later, later); err != nil {
		t.Fatal(err)
	}
	_, extra := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--data", data, "--source", "handbook", filepath.Join(corpus, "extra")))
	if _, _, err := run(t, time.Minute, "ingest", "--brokers", brokers, "--data", data, "--source", "handbook", t.TempDir()); err == nil {
		t.Fatal("a folder outside the source's root was ingested")
	}

	recs := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks+extra))
	versions := map[string]map[int64]bool{}
	for _, r := range recs {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		if versions[m.GetDocId()] == nil {
			versions[m.GetDocId()] = map[int64]bool{}
		}
		versions[m.GetDocId()][m.GetDocVersion()] = true
	}
	// --sync: a file removed from disk is deleted, once, up to its version.
	if err := os.Remove(filepath.Join(corpus, "extra", "sourdough.md")); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--data", data, "--source", "handbook", "--sync", filepath.Join(corpus, "extra"))
	if !strings.Contains(out, "deleted 1 document(s)") {
		t.Fatalf("ingest --sync:\n%s", out)
	}
	if _, _, err := run(t, time.Minute, "ingest", "--brokers", brokers, "--sync", corpus); err == nil {
		t.Fatal("--sync without --source was accepted")
	}
	dels := readTopic(t, brokers, event.TopicDeleted, 5*time.Second, atLeast(2))
	if len(dels) != 1 {
		t.Fatalf("%d DocumentDeleted, want 1", len(dels))
	}
	d, err := event.DecodeDocumentDeleted(dels[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.GetDocId() != "handbook/extra/sourdough.md" || d.GetReason() != "sync" || !versions[d.GetDocId()][d.GetDocVersion()] {
		t.Fatalf("DocumentDeleted %+v (versions %v)", d, versions[d.GetDocId()])
	}

	z := versions["handbook/extra/zebrafish.md"]
	if len(z) != 1 {
		t.Fatalf("zebrafish.md: versions %v, want one (ids: %v)", z, keys(versions))
	}
	for id, vs := range versions {
		if len(vs) != 1 || len(id) < len("handbook/") || id[:len("handbook/")] != "handbook/" {
			t.Fatalf("document %s: versions %v", id, vs)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
