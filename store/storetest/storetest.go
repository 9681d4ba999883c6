package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/store"
)

// Run runs the conformance suite; open returns a new, empty store, closed
// by the caller's cleanup or by Run.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"UpsertIsIdempotent", testIdempotent},
		{"SearchRanksByCosine", testRanking},
		{"MetadataRoundTrip", testMetadata},
		{"TenantIsolation", testTenants},
		{"NewestCompleteVersionOnly", testVersions},
		{"FailVersionTombstone", testFailVersion},
		{"DeleteVersion", testDeleteVersion},
		{"DeleteDocument", testDeleteDocument},
		{"Dimension", testDimension},
		{"DuplicateKeysInOneBatch", testDuplicates},
		{"ConcurrentSearchNeverMixesVersions", testConcurrentVersions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			c.fn(t, s)
		})
	}
}

// C builds a chunk; its text is "doc/version/index".
func C(tenant, doc string, version int64, idx, count int32, vec ...float32) store.Chunk {
	return store.Chunk{TenantID: tenant, DocID: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: count,
		Text: fmt.Sprintf("%s/%d/%d", doc, version, idx), Vector: vec}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func upsert(t *testing.T, s store.Store, cs ...store.Chunk) {
	t.Helper()
	if err := s.Upsert(ctx(t), cs); err != nil {
		t.Fatalf("upsert: %v", err)
	}
}

func search(t *testing.T, s store.Store, tenant string, k int, q ...float32) []store.Hit {
	t.Helper()
	hits, err := s.Search(ctx(t), tenant, q, k)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	return hits
}

func count(t *testing.T, s store.Store, tenant, doc string, v int64) int {
	t.Helper()
	n, err := s.CountVersion(ctx(t), tenant, doc, v)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func length(t *testing.T, s store.Store) int {
	t.Helper()
	n, err := s.Len(ctx(t))
	if err != nil {
		t.Fatalf("len: %v", err)
	}
	return n
}

// versions maps each document of hits to its versions and hit counts.
func versions(hits []store.Hit) map[string]map[int64]int {
	m := map[string]map[int64]int{}
	for _, h := range hits {
		if m[h.DocID] == nil {
			m[h.DocID] = map[int64]int{}
		}
		m[h.DocID][h.DocVersion]++
	}
	return m
}

func testIdempotent(t *testing.T, s store.Store) {
	cs := []store.Chunk{C("t", "a", 1, 0, 2, 1, 0), C("t", "a", 1, 1, 2, 0.9, 0.1), C("t", "b", 1, 0, 1, 0, 1)}
	for range 3 { // a replay overwrites, it does not duplicate
		upsert(t, s, cs...)
	}
	if n := length(t, s); n != 3 {
		t.Fatalf("len %d, want 3", n)
	}
	if n := count(t, s, "t", "a", 1); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
	hits := search(t, s, "t", 2, 1, 0)
	if len(hits) != 2 || hits[0].DocID != "a" || hits[0].ChunkIndex != 0 || hits[0].Score < 0.99 || hits[1].ChunkIndex != 1 {
		t.Fatalf("hits %+v", hits)
	}
}

func testRanking(t *testing.T, s store.Store) {
	var cs []store.Chunk
	for i := range 10 { // angles 0°, 10°, … 90° from the x axis
		a := float64(i) * math.Pi / 18
		cs = append(cs, C("t", fmt.Sprintf("d%d", i), 1, 0, 1, float32(3*math.Cos(a)), float32(3*math.Sin(a)), 0))
	}
	upsert(t, s, cs...)
	hits := search(t, s, "t", 4, 1, 0, 0)
	if len(hits) != 4 {
		t.Fatalf("want 4 hits, got %d", len(hits))
	}
	for i, h := range hits {
		if want := fmt.Sprintf("d%d", i); h.DocID != want {
			t.Fatalf("hit %d is %s, want %s: %+v", i, h.DocID, want, hits)
		}
		if want := math.Cos(float64(i) * math.Pi / 18); math.Abs(float64(h.Score)-want) > 1e-4 {
			t.Fatalf("hit %d score %.5f, want cosine %.5f", i, h.Score, want)
		}
	}
	if hits := search(t, s, "t", 50, 0, 0, 1); len(hits) != 10 {
		t.Fatalf("k above the size: want all 10, got %d", len(hits))
	}
	if _, err := s.Search(ctx(t), "t", []float32{1, 0, 0}, 0); err == nil {
		t.Fatal("k=0 accepted")
	}
}

func testMetadata(t *testing.T, s store.Store) {
	c := C("tenant-x", "docs/a.md", 1712345678901, 0, 1, 0.5, 0.5)
	c.Text, c.Title, c.Source, c.Heading, c.Model = "Zebrafish need warm water — 28 °C.", "Fish care", "/srv/docs/a.md", "Water", "bge-small"
	upsert(t, s, c)
	hits := search(t, s, "tenant-x", 1, 1, 1)
	if len(hits) != 1 {
		t.Fatalf("want 1 hit, got %d", len(hits))
	}
	h := hits[0].Chunk
	h.Vector = c.Vector // a hit need not carry its vector
	if fmt.Sprint(h) != fmt.Sprint(c) {
		t.Fatalf("round trip changed the chunk:\n got %+v\nwant %+v", h, c)
	}
}

// A tenant never sees another tenant's chunks, even for the same document
// ids and vectors; writes in one tenant leave the others alone.
func testTenants(t *testing.T, s store.Store) {
	var cs []store.Chunk
	for _, tenant := range []string{"acme", "globex"} {
		for d := range 5 {
			for i := range int32(3) {
				c := C(tenant, fmt.Sprintf("doc%d", d), 1, i, 3, 1, float32(d), float32(i))
				c.Text = tenant + " secret"
				cs = append(cs, c)
			}
		}
	}
	upsert(t, s, cs...)
	for _, tenant := range []string{"acme", "globex"} {
		hits := search(t, s, tenant, 100, 1, 1, 1)
		if len(hits) != 15 {
			t.Fatalf("%s: want its 15 chunks, got %d", tenant, len(hits))
		}
		for _, h := range hits {
			if h.TenantID != tenant || h.Text != tenant+" secret" {
				t.Fatalf("tenant %s saw %+v", tenant, h)
			}
		}
	}
	if hits := search(t, s, "initech", 100, 1, 1, 1); len(hits) != 0 {
		t.Fatalf("a tenant without chunks saw %d", len(hits))
	}
	if _, err := s.Search(ctx(t), "", []float32{1, 1, 1}, 5); err == nil {
		t.Fatal("a search without a tenant was allowed")
	}
	// Failing, deleting and replacing in one tenant leaves the other whole.
	if err := s.FailVersion(ctx(t), "acme", "doc0", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx(t), "acme", "doc1", 1); err != nil {
		t.Fatal(err)
	}
	upsert(t, s, C("acme", "doc2", 2, 0, 1, 1, 2, 0))
	if n := count(t, s, "globex", "doc0", 1) + count(t, s, "globex", "doc1", 1) + count(t, s, "globex", "doc2", 1); n != 9 {
		t.Fatalf("globex lost chunks to acme's changes: %d of 9 left", n)
	}
	if hits := search(t, s, "globex", 100, 1, 1, 1); len(hits) != 15 {
		t.Fatalf("globex: want 15 hits after acme's changes, got %d", len(hits))
	}
	if hits := search(t, s, "acme", 100, 1, 1, 1); len(hits) != 7 {
		t.Fatalf("acme: want 7 hits (doc2 v2 + doc3 + doc4), got %d", len(hits))
	}
}

// A document is searchable in its newest complete version only; a new
// version replaces the old one when its last chunk arrives; chunks of
// older versions arriving late are ignored.
func testVersions(t *testing.T, s store.Store) {
	upsert(t, s, C("t", "a", 1, 0, 2, 1, 0))
	if hits := search(t, s, "t", 10, 1, 0); len(hits) != 0 {
		t.Fatalf("an incomplete first version is searchable: %+v", hits)
	}
	upsert(t, s, C("t", "a", 1, 1, 2, 1, 0))
	if v := versions(search(t, s, "t", 10, 1, 0)); len(v) != 1 || v["a"][1] != 2 {
		t.Fatalf("want both chunks of version 1: %v", v)
	}
	upsert(t, s, C("t", "a", 2, 0, 3, 0, 1), C("t", "a", 2, 1, 3, 0, 1))
	if v := versions(search(t, s, "t", 10, 1, 0)); len(v["a"]) != 1 || v["a"][1] != 2 {
		t.Fatalf("while version 2 is incomplete, want version 1 only: %v", v)
	}
	if n := count(t, s, "t", "a", 2); n != 2 {
		t.Fatalf("version 2 holds %d chunks, want 2", n)
	}
	upsert(t, s, C("t", "a", 2, 2, 3, 0, 1))
	if v := versions(search(t, s, "t", 10, 1, 0)); len(v["a"]) != 1 || v["a"][2] != 3 {
		t.Fatalf("once version 2 is complete, want version 2 only: %v", v)
	}
	if n := count(t, s, "t", "a", 1); n != 0 {
		t.Fatalf("version 1 still holds %d chunks after version 2 completed", n)
	}
	// A late chunk of the replaced version is ignored.
	upsert(t, s, C("t", "a", 1, 1, 2, 1, 0))
	if n := count(t, s, "t", "a", 1); n != 0 {
		t.Fatalf("a late chunk of version 1 was stored (%d)", n)
	}
	// Two complete versions in one call: the newer wins.
	upsert(t, s, C("t", "a", 4, 0, 1, 1, 1), C("t", "a", 3, 0, 1, 1, 0))
	if v := versions(search(t, s, "t", 10, 1, 0)); len(v["a"]) != 1 || v["a"][4] != 1 {
		t.Fatalf("want version 4 only: %v", v)
	}
	if n := length(t, s); n != 1 {
		t.Fatalf("len %d, want 1", n)
	}
	// A replay of the searchable version overwrites it in place.
	upsert(t, s, C("t", "a", 4, 0, 1, 1, 1))
	if v := versions(search(t, s, "t", 10, 1, 0)); v["a"][4] != 1 {
		t.Fatalf("a replay of version 4 hid it: %v", v)
	}
}

// A failed version is removed and stays removed; the searchable version
// is untouched.
func testFailVersion(t *testing.T, s store.Store) {
	upsert(t, s, C("t", "a", 1, 0, 1, 1, 0), C("t", "a", 2, 0, 2, 1, 0))
	for range 2 { // idempotent
		if err := s.FailVersion(ctx(t), "t", "a", 2); err != nil {
			t.Fatal(err)
		}
	}
	upsert(t, s, C("t", "a", 2, 1, 2, 1, 0), C("t", "a", 2, 0, 2, 1, 0)) // late chunks of the failed version
	if n := count(t, s, "t", "a", 2); n != 0 {
		t.Fatalf("failed version holds %d chunks", n)
	}
	if v := versions(search(t, s, "t", 5, 1, 0)); len(v["a"]) != 1 || v["a"][1] != 1 {
		t.Fatalf("want only version 1 after failing version 2: %v", v)
	}
	// A newer version after the failure is indexed normally.
	upsert(t, s, C("t", "a", 3, 0, 1, 1, 0))
	if v := versions(search(t, s, "t", 5, 1, 0)); v["a"][3] != 1 || len(v["a"]) != 1 {
		t.Fatalf("want version 3: %v", v)
	}
	// Failing the searchable version removes the document from search.
	if err := s.FailVersion(ctx(t), "t", "a", 3); err != nil {
		t.Fatal(err)
	}
	if hits := search(t, s, "t", 5, 1, 0); len(hits) != 0 {
		t.Fatalf("failed searchable version still found: %+v", hits)
	}
}

func testDeleteVersion(t *testing.T, s store.Store) {
	upsert(t, s, C("t", "a", 1, 0, 1, 1, 0), C("t", "a", 2, 0, 2, 1, 0), C("t", "b", 1, 0, 1, 1, 0))
	if err := s.DeleteVersion(ctx(t), "t", "a", 2); err != nil { // the pending one
		t.Fatal(err)
	}
	if n := count(t, s, "t", "a", 2); n != 0 {
		t.Fatalf("deleted version holds %d chunks", n)
	}
	if v := versions(search(t, s, "t", 5, 1, 0)); v["a"][1] != 1 || v["b"][1] != 1 {
		t.Fatalf("deleting a pending version changed search: %v", v)
	}
	if err := s.DeleteVersion(ctx(t), "t", "a", 1); err != nil { // the searchable one
		t.Fatal(err)
	}
	if v := versions(search(t, s, "t", 5, 1, 0)); len(v) != 1 || v["b"][1] != 1 {
		t.Fatalf("want only b after deleting a's searchable version: %v", v)
	}
	// Deleting is not a tombstone: the version may be indexed again.
	upsert(t, s, C("t", "a", 1, 0, 1, 1, 0))
	if v := versions(search(t, s, "t", 5, 1, 0)); v["a"][1] != 1 {
		t.Fatalf("re-indexed version 1 not searchable: %v", v)
	}
	if err := s.DeleteVersion(ctx(t), "t", "nope", 9); err != nil {
		t.Fatalf("deleting a missing version: %v", err)
	}
}

// Deleting a document removes its versions up to the given one, for good:
// late chunks of them leave nothing behind, while a newer version (the
// document written again) is indexed; other documents are untouched.
func testDeleteDocument(t *testing.T, s store.Store) {
	upsert(t, s, C("t", "a", 1, 0, 1, 1, 0), C("t", "a", 2, 0, 2, 1, 0), C("t", "b", 1, 0, 1, 1, 0), C("u", "a", 1, 0, 1, 1, 0))
	for range 2 { // idempotent
		if err := s.DeleteDocument(ctx(t), "t", "a", 2); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, "t", "a", 1) + count(t, s, "t", "a", 2); n != 0 {
		t.Fatalf("deleted document holds %d chunks", n)
	}
	if v := versions(search(t, s, "t", 5, 1, 0)); len(v) != 1 || v["b"][1] != 1 {
		t.Fatalf("want only b after deleting a: %v", v)
	}
	if v := versions(search(t, s, "u", 5, 1, 0)); v["a"][1] != 1 {
		t.Fatalf("another tenant's document of the same id was deleted: %v", v)
	}
	// A late chunk of a deleted version, even one completing it, is ignored.
	upsert(t, s, C("t", "a", 2, 1, 2, 1, 0), C("t", "a", 1, 0, 1, 1, 0))
	if n := count(t, s, "t", "a", 1) + count(t, s, "t", "a", 2); n != 0 {
		t.Fatalf("late chunks of a deleted document were stored (%d)", n)
	}
	if hits := search(t, s, "t", 5, 1, 0); len(hits) != 1 {
		t.Fatalf("late chunks made the deleted document searchable: %+v", hits)
	}
	// Written again later: a newer version comes back.
	upsert(t, s, C("t", "a", 3, 0, 1, 1, 0))
	if v := versions(search(t, s, "t", 5, 1, 0)); v["a"][3] != 1 {
		t.Fatalf("a new version after the delete is not searchable: %v", v)
	}
	// A delete up to an older version leaves the newer searchable one.
	if err := s.DeleteDocument(ctx(t), "t", "a", 1); err != nil {
		t.Fatal(err)
	}
	if v := versions(search(t, s, "t", 5, 1, 0)); v["a"][3] != 1 {
		t.Fatalf("an older delete removed version 3: %v", v)
	}
	if err := s.DeleteDocument(ctx(t), "t", "never-indexed", 5); err != nil {
		t.Fatalf("deleting an unknown document: %v", err)
	}
	upsert(t, s, C("t", "never-indexed", 4, 0, 1, 1, 0))
	if n := count(t, s, "t", "never-indexed", 4); n != 0 {
		t.Fatal("a delete before the document's chunks arrived did not hold")
	}
}

// The first vector fixes the store's dimension: other dimensions are
// refused in searches and upserts with ErrDimension, not silently ignored.
func testDimension(t *testing.T, s store.Store) {
	if hits := search(t, s, "t", 5, 1, 0, 0); len(hits) != 0 {
		t.Fatalf("an empty store found %+v", hits)
	}
	upsert(t, s, C("t", "a", 1, 0, 1, 1, 0, 0))
	_, err := s.Search(ctx(t), "t", []float32{1, 0}, 5)
	if !errors.Is(err, store.ErrDimension) {
		t.Fatalf("a 2-dimensional query on 3-dimensional vectors: want ErrDimension, got %v", err)
	}
	var de *store.DimensionError
	if !errors.As(err, &de) || de.Got != 2 || de.Want != 3 {
		t.Fatalf("want a DimensionError{Got: 2, Want: 3}, got %#v", err)
	}
	// Other tenants share the dimension: the index is one embedding space.
	if _, err := s.Search(ctx(t), "other", []float32{1, 0}, 5); !errors.Is(err, store.ErrDimension) {
		t.Fatalf("another tenant: want ErrDimension, got %v", err)
	}
	if err := s.Upsert(ctx(t), []store.Chunk{C("t", "b", 1, 0, 1, 1, 0)}); !errors.Is(err, store.ErrDimension) {
		t.Fatalf("upserting a 2-dimensional vector: want ErrDimension, got %v", err)
	}
	if err := s.Upsert(ctx(t), []store.Chunk{C("t", "c", 1, 0, 1, 1, 0, 0), C("t", "d", 1, 0, 1, 1, 0)}); !errors.Is(err, store.ErrDimension) {
		t.Fatalf("a batch of mixed dimensions: want ErrDimension, got %v", err)
	}
	if n := length(t, s); n != 1 {
		t.Fatalf("refused upserts stored chunks: len %d, want 1", n)
	}
	if hits := search(t, s, "t", 5, 0, 1, 0); len(hits) != 1 {
		t.Fatalf("want the one chunk, got %+v", hits)
	}
}

// The same key twice in one call: the last one wins.
func testDuplicates(t *testing.T, s store.Store) {
	first, second := C("t", "a", 1, 0, 1, 1, 0), C("t", "a", 1, 0, 1, 0, 1)
	second.Text = "second"
	upsert(t, s, first, second)
	hits := search(t, s, "t", 5, 0, 1)
	if len(hits) != 1 || hits[0].Text != "second" || hits[0].Score < 0.99 {
		t.Fatalf("want the second write only: %+v", hits)
	}
}

// Writers replace document versions chunk by chunk while readers search:
// every search sees each document in exactly one complete version, and
// versions never go backwards.
func testConcurrentVersions(t *testing.T, s store.Store) {
	const (
		docs     = 4
		chunks   = 6
		versions = 12
		readers  = 3
	)
	vec := func(doc, idx int) []float32 {
		return []float32{1, float32(doc) / 10, float32(idx) / 10, 0.5}
	}
	write := func(v int64, from, to int) {
		var cs []store.Chunk
		for d := range docs {
			for i := from; i < to; i++ {
				cs = append(cs, C("t", fmt.Sprintf("doc%d", d), v, int32(i), chunks, vec(d, i)...))
			}
		}
		upsert(t, s, cs...)
	}
	write(1, 0, chunks)
	var (
		done     atomic.Bool
		searches atomic.Int64
		wg       sync.WaitGroup
		errs     = make(chan error, readers)
	)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			seen := map[string]int64{}
			for !done.Load() {
				q := []float32{1, rng.Float32(), rng.Float32(), rng.Float32()}
				hits, err := s.Search(context.Background(), "t", q, 100)
				if err != nil {
					errs <- err
					return
				}
				searches.Add(1)
				byDoc := map[string]map[int64]int{}
				for _, h := range hits {
					if byDoc[h.DocID] == nil {
						byDoc[h.DocID] = map[int64]int{}
					}
					byDoc[h.DocID][h.DocVersion]++
				}
				if len(byDoc) != docs {
					errs <- fmt.Errorf("search saw %d of %d documents: %v", len(byDoc), docs, byDoc)
					return
				}
				for doc, vs := range byDoc {
					if len(vs) != 1 {
						errs <- fmt.Errorf("search mixed versions of %s: %v", doc, vs)
						return
					}
					for v, n := range vs {
						if n != chunks {
							errs <- fmt.Errorf("search saw %d of %d chunks of %s version %d", n, chunks, doc, v)
							return
						}
						if v < seen[doc] {
							errs <- fmt.Errorf("%s went back from version %d to %d", doc, seen[doc], v)
							return
						}
						seen[doc] = v
					}
				}
			}
		}()
	}
	for v := int64(2); v <= versions; v++ {
		for from := 0; from < chunks; from += 2 { // three calls per version
			write(v, from, from+2)
			time.Sleep(2 * time.Millisecond)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := length(t, s); n != docs*chunks {
		t.Fatalf("len %d after the last version, want %d", n, docs*chunks)
	}
	t.Logf("%d searches during %d version swaps of %d documents", searches.Load(), versions-1, docs)
	if searches.Load() < 10 {
		t.Fatalf("only %d searches ran", searches.Load())
	}
}
