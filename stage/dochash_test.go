package stage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/catalog"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// The parse stage takes the document hash from DocumentRaw.content_hash
// only when it is the SHA-256 of the bytes parsed.
func TestParseSetsDocumentHashFromContentHash(t *testing.T) {
	md := []byte("# Title\n\nSome text to index.\n")
	for _, tc := range []struct {
		name, contentHash, want string
	}{
		{"sha256 of the bytes", documentHash(md), documentHash(md)},
		{"another algorithm", "md5:0123456789abcdef", ""},
		{"other bytes", documentHash([]byte("other")), ""},
	} {
		r := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "a.md", DocVersion: 1, Source: "/a.md",
			ContentHash: tc.contentHash, Body: &ragpipev1.DocumentRaw_Content{Content: md}})
		res, err := (&Parse{}).Handle(t.Context(), []*kgo.Record{r})
		if err != nil || res[0].Err != nil || len(res[0].Outputs) == 0 {
			t.Fatalf("%s: %v %+v", tc.name, err, res)
		}
		for _, out := range res[0].Outputs {
			m, err := event.DecodeChunkParsed(out)
			if err != nil || m.GetDocumentHash() != tc.want {
				t.Errorf("%s: document_hash %q (%v), want %q", tc.name, m.GetDocumentHash(), err, tc.want)
			}
		}
	}
}

// Ingest skips the files whose hash is the cataloged one (a touched file
// too), publishes the others with their document hash in every chunk,
// and publishes everything without a catalog.
func TestIngestSkipsCatalogedFiles(t *testing.T) {
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(event.TopicParsed))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, event.TopicParsed); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"same.md": "# Same\n\nUnchanged text.\n", "touched.md": "# Touched\n\nUnchanged too.\n",
		"edited.md": "# Edited\n\nNew text.\n", "new.md": "# New\n\nNever indexed.\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "touched.md"), later, later); err != nil {
		t.Fatal(err)
	}
	hash := func(name string) string {
		h, err := FileHash(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	cat := catalog.New("t", map[string]string{"same.md": hash("same.md"), "touched.md": hash("touched.md"), "edited.md": documentHash([]byte("old"))})
	s := &Ingest{Client: cl, Tenant: "t", Loader: ingest.Loader{}, Chunker: ingest.DefaultChunker(), Catalog: cat}
	sum, err := s.Run(ctx, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 4 || sum.Unchanged != 2 || sum.Documents != 2 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want 4 files, 2 unchanged, 2 documents", sum)
	}
	docs := readParsed(t, b.Addrs(), sum.Chunks)
	if len(docs) != 2 || docs["edited.md"] != hash("edited.md") || docs["new.md"] != hash("new.md") {
		t.Fatalf("published %v, want edited.md and new.md with their hashes", docs)
	}

	// Without a catalog (--force, or none to read) every file is published.
	s.Catalog = nil
	if sum, err = s.Run(ctx, []string{dir}); err != nil || sum.Documents != 4 || sum.Unchanged != 0 {
		t.Fatalf("without a catalog: %+v %v", sum, err)
	}
}

// With a named source, a file skipped as unchanged keeps its remembered
// version (a touch does not change it) and counts as present for --sync.
func TestIngestSourceKeepsSkippedFiles(t *testing.T) {
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, event.TopicParsed); err != nil {
		t.Fatal(err)
	}
	docs := t.TempDir()
	for _, name := range []string{"a.md", "b.md"} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte("# "+name+"\n\nSome text.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := OpenSources(filepath.Join(t.TempDir(), "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	run := func(cat *catalog.Catalog) (*Source, IngestSummary) {
		t.Helper()
		src, err := srcs.Source("t", "hb", []string{docs})
		if err != nil {
			t.Fatal(err)
		}
		s := &Ingest{Client: cl, Tenant: "t", Chunker: ingest.DefaultChunker(), DocID: src.DocID, Version: src.Version, Catalog: cat}
		sum, err := s.Run(ctx, []string{docs})
		if err != nil {
			t.Fatal(err)
		}
		return src, sum
	}
	if _, sum := run(nil); sum.Documents != 2 {
		t.Fatalf("first ingest: %+v", sum)
	}
	versions := map[string]int64{}
	for id, ref := range srcs.state.Sources["t/hb"].Docs {
		versions[id] = ref.Version
	}
	hash, _ := FileHash(filepath.Join(docs, "a.md"))
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(docs, "a.md"), later, later); err != nil {
		t.Fatal(err)
	}
	src, sum := run(catalog.New("t", map[string]string{"hb/a.md": hash}))
	if sum.Unchanged != 1 || sum.Documents != 1 {
		t.Fatalf("second ingest: %+v, want a.md unchanged and b.md published", sum)
	}
	if got := srcs.state.Sources["t/hb"].Docs["hb/a.md"]; got.Version != versions["hb/a.md"] || got.Hash != hash {
		t.Fatalf("a.md remembered as %+v, want version %d and hash %s", got, versions["hb/a.md"], hash)
	}
	gone, err := src.Missing([]string{docs})
	if err != nil || len(gone) != 0 {
		t.Fatalf("--sync would delete %v (%v): a skipped file is still on disk", gone, err)
	}
}

// readParsed reads n records of documents.parsed: doc_id → document_hash.
func readParsed(t *testing.T, addrs []string, n int) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(event.TopicParsed), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docs := map[string]string{}
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			m, err := event.DecodeChunkParsed(r)
			if err != nil {
				t.Fatal(err)
			}
			docs[m.GetDocId()] = m.GetDocumentHash()
		})
	}
	return docs
}
