package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func chunk(tenant, doc string, version int64, idx, count int32, vec ...float32) Chunk {
	return Chunk{TenantID: tenant, DocID: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: count, Text: doc, Vector: vec}
}

func TestEmbeddedSurvivesReopenAndTornLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	cs := []Chunk{chunk("t", "a", 1, 0, 2, 1, 0), chunk("t", "a", 1, 1, 2, 0.9, 0.1), chunk("t", "b", 1, 0, 1, 0, 1)}
	if err := s.Upsert(ctx, cs); err != nil {
		t.Fatal(err)
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
	if err := r.Upsert(ctx, cs); err == nil {
		t.Fatal("a read-only store took an upsert")
	}
	// The dimension survives the reopen.
	if _, err := r.Search(ctx, "t", []float32{1, 0, 0}, 2); err == nil || !strings.Contains(err.Error(), "2-dimensional") {
		t.Fatalf("want a dimension error, got %v", err)
	}
}

func TestEmbeddedCompactionOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenEmbedded(dir, false)
	for range 1100 {
		_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 1, 0, 1, 1, 0)})
	}
	// A pending newer version survives compaction without becoming
	// searchable, and a tombstone stays.
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 2, 0, 2, 0, 1)})
	_ = s.FailVersion(ctx, "t", "a", 3, "")
	_ = s.DeleteDocument(ctx, "t", "gone", 7)
	s.Close()
	s, err := OpenEmbedded(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.entries != 5 { // dim, fail, deldoc, two puts
		t.Fatalf("entries after compaction %d", s.entries)
	}
	if n, _ := s.Len(ctx); n != 2 {
		t.Fatalf("len %d", n)
	}
	hits, _ := s.Search(ctx, "t", []float32{1, 0}, 5)
	if len(hits) != 1 || hits[0].DocVersion != 1 {
		t.Fatalf("want version 1 searchable after compaction: %+v", hits)
	}
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 3, 0, 1, 1, 0)})
	_ = s.Upsert(ctx, []Chunk{chunk("t", "gone", 7, 0, 1, 1, 0)})
	if n, _ := s.CountVersion(ctx, "t", "a", 3); n != 0 {
		t.Fatal("the failed-version tombstone was lost in compaction")
	}
	if n, _ := s.CountVersion(ctx, "t", "gone", 7); n != 0 {
		t.Fatal("the deleted-document tombstone was lost in compaction")
	}
}

// The tombstone of a failed version survives a reopen.
func TestEmbeddedFailVersionSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenEmbedded(dir, false)
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 1, 0, 1, 1, 0), chunk("t", "a", 2, 0, 2, 1, 0)})
	if err := s.FailVersion(ctx, "t", "a", 2, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = OpenEmbedded(dir, false)
	defer s.Close()
	_ = s.Upsert(ctx, []Chunk{chunk("t", "a", 2, 0, 2, 1, 0), chunk("t", "a", 2, 1, 2, 1, 0)})
	hits, _ := s.Search(ctx, "t", []float32{1, 0}, 5)
	if len(hits) != 1 || hits[0].DocVersion != 1 {
		t.Fatalf("want only version 1 after failing version 2: %+v", hits)
	}
}

func TestOpenSchemes(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{"qdrant://host:6333", "s3://bucket/x", "mysql://u:secret@h/db"} {
		_, err := Open(ctx, dsn, false)
		if err == nil || !strings.Contains(err.Error(), "postgres://") || !strings.Contains(err.Error(), "file://") {
			t.Fatalf("%s: want an error listing the supported stores, got %v", dsn, err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
	if _, err := Open(ctx, "", false); err == nil {
		t.Fatal("an empty location was accepted")
	}
	dir := t.TempDir()
	for _, dsn := range []string{filepath.Join(dir, "a"), "file://" + filepath.Join(dir, "b")} {
		s, err := Open(ctx, dsn, false)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if _, ok := s.(*Embedded); !ok {
			t.Fatalf("%s opened %T", dsn, s)
		}
		s.Close()
	}
	if _, err := os.Stat("qdrant:"); err == nil {
		t.Fatal("an unknown scheme created a directory")
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
	if !s.Ignores(ctx, late) {
		t.Fatal("Ignores: a late chunk of the failed delivery")
	}
	_ = s.Upsert(ctx, []Chunk{late})
	if n, _ := s.CountVersion(ctx, "t", "a", 1); n != 0 {
		t.Fatalf("a late chunk of the failed delivery was stored (%d)", n)
	}
	replayed := chunk("t", "a", 1, 1, 2, 0)
	replayed.Delivery = "replay-1"
	if s.Ignores(ctx, replayed) {
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
