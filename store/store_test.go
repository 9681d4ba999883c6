package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func chunk(tenant, doc string, version int64, idx int32, vec ...float32) Chunk {
	return Chunk{TenantID: tenant, DocID: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: 2, Text: doc, Vector: vec}
}

func TestUpsertIsIdempotentAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	cs := []Chunk{chunk("t", "a", 1, 0, 1, 0), chunk("t", "a", 1, 1, 0.9, 0.1), chunk("t", "b", 1, 0, 0, 1)}
	for range 3 { // a replay overwrites, it does not duplicate
		if err := s.Upsert(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Len(ctx); n != 3 {
		t.Fatalf("len %d, want 3", n)
	}
	if _, err := OpenEmbedded(dir, false); err == nil {
		t.Fatal("a second writer was allowed")
	}
	s.Close()
	// A torn last line (a crash mid-write) is ignored.
	f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"put","tenant_id":"t","doc_id":"c"`)
	f.Close()
	r, err := OpenEmbedded(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.CountVersion(ctx, "t", "a", 1); n != 2 {
		t.Fatalf("count %d", n)
	}
	hits, err := r.Search(ctx, "t", []float32{1, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].DocID != "a" || hits[0].ChunkIndex != 0 || hits[0].Score < 0.99 || hits[1].ChunkIndex != 1 {
		t.Fatalf("hits %+v", hits)
	}
	if hits, _ := r.Search(ctx, "other", []float32{1, 0}, 2); len(hits) != 0 {
		t.Fatalf("tenant isolation broken: %+v", hits)
	}
}

func TestSearchUsesNewestVersionAndDeleteVersion(t *testing.T) {
	ctx := context.Background()
	s, err := OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 1, 0, 1, 0), chunk("t", "a", 2, 0, 0, 1)})
	hits, _ := s.Search(ctx, "t", []float32{1, 0}, 5)
	if len(hits) != 1 || hits[0].DocVersion != 2 {
		t.Fatalf("want only version 2: %+v", hits)
	}
	_ = s.DeleteVersion(ctx, "t", "a", 2)
	hits, _ = s.Search(ctx, "t", []float32{1, 0}, 5)
	if len(hits) != 1 || hits[0].DocVersion != 1 {
		t.Fatalf("after deleting v2, want version 1: %+v", hits)
	}
}

func TestCompactionOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenEmbedded(dir, false)
	for range 1100 {
		_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 1, 0, 1, 0)})
	}
	s.Close()
	s, err := OpenEmbedded(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.entries != 1 {
		t.Fatalf("entries after compaction %d", s.entries)
	}
	if n, _ := s.Len(ctx); n != 1 {
		t.Fatalf("len %d", n)
	}
}

// A failed version is removed and stays removed: late chunks of it are
// ignored, also after a reopen, while other versions are untouched.
func TestFailVersionTombstone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenEmbedded(dir, false)
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 1, 0, 1, 0), chunk("t", "a", 2, 0, 1, 0)})
	if err := s.FailVersion(ctx, "t", "a", 2, ""); err != nil {
		t.Fatal(err)
	}
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 2, 1, 1, 0)}) // a late chunk of the failed version
	if n, _ := s.CountVersion(ctx, "t", "a", 2); n != 0 {
		t.Fatalf("failed version has %d chunks", n)
	}
	s.Close()
	s, _ = OpenEmbedded(dir, false)
	defer s.Close()
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 2, 0, 1, 0)})
	hits, _ := s.Search(ctx, "t", []float32{1, 0}, 5)
	if len(hits) != 1 || hits[0].DocVersion != 1 {
		t.Fatalf("want only version 1 after failing version 2: %+v", hits)
	}
}

// A chunk of another delivery (a replay, a fresh ingest) of a failed
// version clears the tombstone, also as the log is replayed on open; late
// chunks of the failed delivery stay ignored.
func TestFailVersionOtherDeliveryRevives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenEmbedded(dir, false)
	if err := s.FailVersion(ctx, "t", "a", 1, "run-1"); err != nil {
		t.Fatal(err)
	}
	late := chunk("t", "a", 1, 0, 2, 0)
	late.Delivery = "run-1"
	if !s.Ignores(late) {
		t.Fatal("Ignores: a late chunk of the failed delivery")
	}
	_ = s.Upsert(ctx, []Chunk{late})
	if n, _ := s.CountVersion(ctx, "t", "a", 1); n != 0 {
		t.Fatalf("a late chunk of the failed delivery was stored (%d)", n)
	}
	replayed := chunk("t", "a", 1, 1, 2, 0)
	replayed.Delivery = "replay-1"
	if s.Ignores(replayed) {
		t.Fatal("Ignores: a chunk of another delivery")
	}
	_ = s.Upsert(ctx, []Chunk{replayed, late})
	if n, _ := s.CountVersion(ctx, "t", "a", 1); n != 2 {
		t.Fatalf("want both chunks after the replay cleared the tombstone, got %d", n)
	}
	s.Close()
	s, _ = OpenEmbedded(dir, false)
	defer s.Close()
	if n, _ := s.CountVersion(ctx, "t", "a", 1); n != 2 {
		t.Fatalf("after reopen: %d chunks", n)
	}
}
