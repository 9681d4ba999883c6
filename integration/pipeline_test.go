package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest/sample"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// writeCorpus writes the sample corpus plus two documents with words found
// nowhere else, for checking search results.
func writeCorpus(t *testing.T, dir string) {
	t.Helper()
	err := fs.WalkDir(sample.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sample.FS(), p)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{
		"extra/zebrafish.md": "# Zebrafish care\n\nZebrafish aquarium water should stay near 28 degrees. Feed zebrafish larvae twice a day.\n",
		"extra/sourdough.md": "# Sourdough\n\nA sourdough starter needs flour and water every day. Sourdough bread rises slowly overnight.\n",
	}
	for name, text := range extra {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var ingestedRe = regexp.MustCompile(`ingested (\d+) document\(s\), (\d+) chunk\(s\)`)

func parseIngested(t *testing.T, out string) (docs, chunks int) {
	t.Helper()
	m := ingestedRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in ingest output: %q", out)
	}
	docs, _ = strconv.Atoi(m[1])
	chunks, _ = strconv.Atoi(m[2])
	return docs, chunks
}

func startGpusim(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := start(t, "gpusim", append([]string{"gpusim", "--addr", addr}, args...)...)
	waitFor(t, 10*time.Second, "gpusim to listen", func() bool { return strings.Contains(p.stdout.String(), "listening") })
	return p, "http://" + addr + "/v1"
}

// The whole pipeline as separate processes on real Kafka: ingest, embed
// (through an OpenAI-compatible server), index, search.
func TestPipelineAsProcessesOnKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	testPipeline(t, brokers)
}

// The same with `ragpipe broker`, the embedded broker, as its own process:
// the local-development path that needs no Java.
func TestPipelineAsProcessesOnEmbeddedBroker(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	b := start(t, "broker", "broker", "--port", strconv.Itoa(port), "--data", t.TempDir())
	waitFor(t, 10*time.Second, "the broker", func() bool { return strings.Contains(b.stdout.String(), "listening") })
	testPipeline(t, addr)
	b.stop(10 * time.Second)
}

// testPipeline runs the pipeline and checks its output and two searches;
// storeArgs point index and search at the store (default: --data DIR, the
// embedded store). It returns the number of documents and chunks ingested.
func testPipeline(t *testing.T, brokers string, storeArgs ...string) (docs, chunks int) {
	data := t.TempDir()
	if len(storeArgs) == 0 {
		storeArgs = []string{"--data", data}
	}
	corpus := filepath.Join(t.TempDir(), "corpus")
	writeCorpus(t, corpus)

	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "6", "--replication-factor", "1")
	out := mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "6", "--replication-factor", "1")
	if strings.Contains(out, "created") || strings.Count(out, " ok") != len(event.Topics()) {
		t.Fatalf("second topics apply should find all %d topics ok:\n%s", len(event.Topics()), out)
	}

	_, url := startGpusim(t)
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-embed", "--embedder", url, "--model", "hash-384", "--batch-size", "16")
	indexP := start(t, "index", slices.Concat([]string{"index", "--brokers", brokers, "--group", "it-index"}, storeArgs)...)

	out = mustRun(t, 2*time.Minute, "ingest", "--brokers", brokers, corpus)
	docs, chunks = parseIngested(t, out)
	if docs < 30 || chunks < docs {
		t.Fatalf("ingest: %d docs, %d chunks", docs, chunks)
	}

	indexed := readTopic(t, brokers, event.TopicIndexed, 2*time.Minute, func(rs []*kgo.Record) bool {
		seen := map[string]bool{}
		for _, r := range rs {
			seen[string(r.Key)] = true
		}
		return len(seen) >= docs
	})
	indexedDocs := map[string]bool{}
	for _, r := range indexed {
		indexedDocs[string(r.Key)] = true
		// Freshness: ingest to searchable, from the event's own times.
		di, err := event.DecodeDocumentIndexed(r)
		if err != nil {
			t.Fatal(err)
		}
		if !di.GetParsedAt().IsValid() || di.GetDeleted() {
			t.Fatalf("%s: no parse time (or a delete) in %+v", r.Key, di)
		}
		gap := di.GetIndexedAt().AsTime().Sub(di.GetParsedAt().AsTime()).Milliseconds()
		if di.GetIngestToSearchableMs() != gap || gap < 0 || gap > 120_000 {
			t.Fatalf("%s: ingest_to_searchable_ms %d, times %d ms apart", r.Key, di.GetIngestToSearchableMs(), gap)
		}
	}
	if len(indexedDocs) != docs {
		t.Fatalf("vectors.indexed announced %d of %d documents", len(indexedDocs), docs)
	}
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	embedded := readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(chunks))

	// Every parsed chunk is embedded, with its own vector, in per-document order.
	want, got, _ := checkEmbedded(t, parsed, embedded)
	if len(want) != chunks {
		t.Fatalf("documents.parsed has %d distinct chunks, ingest reported %d", len(want), chunks)
	}
	if len(got) != len(want) {
		t.Fatalf("chunks.embedded covers %d of %d chunks", len(got), len(want))
	}
	perDoc := map[string]int{}
	for id := range got {
		perDoc[id.doc]++
	}
	for _, r := range indexed {
		var m ragpipev1.DocumentIndexed
		if err := event.Decode(r, &m); err != nil {
			t.Fatal(err)
		}
		if int(m.GetChunkCount()) != perDoc[m.GetDocId()] {
			t.Fatalf("DocumentIndexed %s says %d chunks, %d were embedded", m.GetDocId(), m.GetChunkCount(), perDoc[m.GetDocId()])
		}
	}

	embedP.stop(20 * time.Second)
	indexP.stop(20 * time.Second)

	out = mustRun(t, time.Minute, slices.Concat([]string{"search", "--k", "3"}, storeArgs, []string{"zebrafish aquarium larvae"})...)
	first := firstResult(out)
	if !strings.Contains(first, "extra/zebrafish.md") {
		t.Fatalf("search: want extra/zebrafish.md first, got:\n%s", out)
	}
	out = mustRun(t, time.Minute, slices.Concat([]string{"search"}, storeArgs, []string{"sourdough starter bread"})...)
	if !strings.Contains(firstResult(out), "extra/sourdough.md") {
		t.Fatalf("search: want extra/sourdough.md first, got:\n%s", out)
	}
	return docs, chunks
}

func firstResult(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "1.") {
			return l
		}
	}
	return ""
}
