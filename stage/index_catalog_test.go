package stage

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/store"
)

func hashedEmbedded(t *testing.T, doc string, version int64, idx, count int32, hash string) *kgo.Record {
	t.Helper()
	r, err := event.NewRecord(event.TopicEmbedded, event.Key("t", doc), &ragpipev1.ChunkEmbedded{
		TenantId: "t", DocId: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: count, Text: "x",
		ContentHash: "h", Vector: []float32{1, 0}, Model: "m", Source: "/src/" + doc, DocumentHash: hash,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func outputsOn(res []engine.Result, topic string) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range res {
		for _, o := range r.Outputs {
			if o.Topic == topic {
				out = append(out, o)
			}
		}
	}
	return out
}

// The embed stage copies document_hash from the parsed chunk.
func TestEmbedCopiesDocumentHash(t *testing.T) {
	r, err := event.NewRecord(event.TopicParsed, event.Key("t", "a"), &ragpipev1.ChunkParsed{
		TenantId: "t", DocId: "a", DocVersion: 1, ChunkCount: 1, Text: "x", DocumentHash: "sha256:ab",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Embed{Embedder: embed.NewHash(4)}).Handle(context.Background(), []*kgo.Record{r})
	if err != nil || len(res[0].Outputs) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	m, err := event.DecodeChunkEmbedded(res[0].Outputs[0])
	if err != nil || m.GetDocumentHash() != "sha256:ab" {
		t.Fatalf("document_hash %q, %v", m.GetDocumentHash(), err)
	}
}

// A version announced on vectors.indexed is cataloged in the same
// handler result when its chunks carry a document_hash; one without it,
// and a failed version, are not; a delete writes a tombstone.
func TestIndexCatalogsSearchableVersions(t *testing.T) {
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Index{Store: st}
	ctx := context.Background()

	res, err := s.Handle(ctx, []*kgo.Record{
		hashedEmbedded(t, "a", 7, 0, 2, "sha256:aa"), hashedEmbedded(t, "a", 7, 1, 2, "sha256:aa"),
		hashedEmbedded(t, "old", 1, 0, 1, ""), // written before document_hash
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Outputs) != 0 || len(res[1].Outputs) != 2 || len(res[2].Outputs) != 1 {
		t.Fatalf("outputs: %d %d %d, want 0 2 1", len(res[0].Outputs), len(res[1].Outputs), len(res[2].Outputs))
	}
	if len(outputsOn(res, event.TopicIndexed)) != 2 {
		t.Fatalf("want 2 DocumentIndexed, got %d", len(outputsOn(res, event.TopicIndexed)))
	}
	cat := outputsOn(res, event.TopicCatalog)
	if len(cat) != 1 || string(cat[0].Key) != "t/a" {
		t.Fatalf("catalog outputs %+v", cat)
	}
	e, err := event.DecodeCatalogEntry(cat[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.GetDocId() != "a" || e.GetDocVersion() != 7 || e.GetDocumentHash() != "sha256:aa" || e.GetChunkCount() != 2 ||
		e.GetSource() != "/src/a" || e.GetModel() != "m" || e.GetDimensions() != 2 || e.GetStore() != st.Describe() || !e.GetIndexedAt().IsValid() {
		t.Fatalf("entry %v", e)
	}

	// A version that fails after its first chunk is stored never becomes
	// searchable, so it is never cataloged.
	if _, err := s.Handle(ctx, []*kgo.Record{hashedEmbedded(t, "b", 1, 0, 2, "sha256:bb")}); err != nil {
		t.Fatal(err)
	}
	failed, _ := event.NewRecord(event.TopicFailed, event.Key("t", "b"), &ragpipev1.DocumentFailed{
		TenantId: "t", DocId: "b", DocVersion: 1, Stage: "embed", ErrorClass: "record", ErrorMessage: "x", Attempts: 3,
	})
	res, err = s.Handle(ctx, []*kgo.Record{failed, hashedEmbedded(t, "b", 1, 1, 2, "sha256:bb")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(outputsOn(res, event.TopicCatalog)) + len(outputsOn(res, event.TopicIndexed)); n != 0 {
		t.Fatalf("a failed version produced %d announcement(s)", n)
	}

	// A delete: its announcement and a tombstone for the key.
	del, err := event.NewRecord(event.TopicDeleted, event.Key("t", "a"), &ragpipev1.DocumentDeleted{
		TenantId: "t", DocId: "a", DocVersion: 7, Reason: "delete",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err = s.Handle(ctx, []*kgo.Record{del})
	if err != nil || res[0].Err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	cat = outputsOn(res, event.TopicCatalog)
	if len(cat) != 1 || string(cat[0].Key) != "t/a" || cat[0].Value != nil {
		t.Fatalf("want one tombstone for t/a, got %+v", cat)
	}
	if len(outputsOn(res, event.TopicIndexed)) != 1 {
		t.Fatal("the delete was not announced")
	}
}

// WithoutCatalog (a cluster without documents.catalog) announces versions
// and deletes as usual and writes nothing to the catalog.
func TestIndexWithoutCatalogWritesNoEntries(t *testing.T) {
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := IndexWorker(st, WithoutCatalog())
	ctx := context.Background()
	res, err := w.Handler(ctx, []*kgo.Record{hashedEmbedded(t, "a", 7, 0, 1, "sha256:aa")})
	if err != nil {
		t.Fatal(err)
	}
	del, err := event.NewRecord(event.TopicDeleted, event.Key("t", "a"), &ragpipev1.DocumentDeleted{
		TenantId: "t", DocId: "a", DocVersion: 7, Reason: "delete",
	})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := w.Handler(ctx, []*kgo.Record{del})
	if err != nil {
		t.Fatal(err)
	}
	res = append(res, res2...)
	if n := len(outputsOn(res, event.TopicCatalog)); n != 0 {
		t.Fatalf("%d catalog record(s) without the catalog", n)
	}
	if n := len(outputsOn(res, event.TopicIndexed)); n != 2 {
		t.Fatalf("want the version and the delete announced, got %d", n)
	}
}

// A version routed to a building namespace is not searchable (search
// reads the active one): it is neither announced on vectors.indexed nor
// cataloged, so that ingest does not skip it should the build be dropped.
// Once its namespace is active, a version landing there is both.
func TestIndexCatalogsOnlyTheActiveNamespace(t *testing.T) {
	ctx := context.Background()
	nss, err := store.OpenNamespaces(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	s := &Index{Store: r}
	if _, err := s.Handle(ctx, []*kgo.Record{hashedEmbedded(t, "a", 1, 0, 1, "sha256:aa")}); err != nil {
		t.Fatal(err) // model "m" recorded for the default namespace
	}
	if _, err := nss.Create(ctx, "b-2", "b", 2); err != nil {
		t.Fatal(err)
	}
	chunkB := func(doc string) *kgo.Record {
		rec, err := event.NewRecord(event.TopicEmbedded, event.Key("t", doc), &ragpipev1.ChunkEmbedded{
			TenantId: "t", DocId: doc, DocVersion: 1, ChunkIndex: 0, ChunkCount: 1, Text: "x",
			Vector: []float32{0, 1}, Model: "b", DocumentHash: "sha256:" + doc})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	res, err := s.Handle(ctx, []*kgo.Record{chunkB("c")})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := r.Search(ctx, "t", []float32{0, 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.DocID == "c" {
			t.Fatalf("search found the building namespace's version: %+v", h)
		}
	}
	if n, m := len(outputsOn(res, event.TopicCatalog)), len(outputsOn(res, event.TopicIndexed)); n != 0 || m != 0 {
		t.Fatalf("a version of a building namespace: %d catalog record(s), %d vectors.indexed record(s), want 0 and 0", n, m)
	}
	if n, _ := nss.Len(ctx, "b-2"); n != 1 {
		t.Fatalf("the building namespace holds %d chunks, want 1", n)
	}

	if err := nss.Activate(ctx, "b-2"); err != nil {
		t.Fatal(err)
	}
	res, err = s.Handle(ctx, []*kgo.Record{chunkB("d")})
	if err != nil {
		t.Fatal(err)
	}
	if n, m := len(outputsOn(res, event.TopicCatalog)), len(outputsOn(res, event.TopicIndexed)); n != 1 || m != 1 {
		t.Fatalf("a version of the active namespace: %d catalog record(s), %d vectors.indexed record(s), want 1 and 1", n, m)
	}
	// After the switch the old model's namespace is retired: its chunks
	// are skipped, so neither announced nor cataloged.
	res, err = s.Handle(ctx, []*kgo.Record{hashedEmbedded(t, "e", 1, 0, 1, "sha256:ee")})
	if err != nil {
		t.Fatal(err)
	}
	if n, m := len(outputsOn(res, event.TopicCatalog)), len(outputsOn(res, event.TopicIndexed)); n != 0 || m != 0 {
		t.Fatalf("a retired model's version: %d catalog record(s), %d vectors.indexed record(s), want 0 and 0", n, m)
	}
}
