package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/store"
)

func searchFixture(t *testing.T) (embed.Embedder, store.Store) {
	t.Helper()
	ctx := context.Background()
	em := embed.NewHash(64)
	texts := map[string]string{
		"fish.md":  "zebrafish aquarium water larvae",
		"bread.md": "sourdough starter flour bread",
	}
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for doc, text := range texts {
		v, err := em.Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		c := store.Chunk{TenantID: "default", DocID: doc, DocVersion: 1, ChunkCount: 1, Text: text, Heading: "H", Vector: v[0]}
		if err := st.Upsert(ctx, []store.Chunk{c}); err != nil {
			t.Fatal(err)
		}
	}
	return em, st
}

func TestSearchJSONAndMinScore(t *testing.T) {
	em, st := searchFixture(t)
	var out bytes.Buffer
	err := runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish aquarium", K: 5, MinScore: -1, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var res jsonResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(res.Hits) != 2 || res.Hits[0].DocID != "fish.md" || res.Hits[0].Rank != 1 || res.Hits[0].Heading != "H" || res.Hits[0].TenantID != "default" {
		t.Fatalf("hits %+v", res.Hits)
	}
	// Only the matching document clears a high minimum.
	min := (res.Hits[0].Score + res.Hits[1].Score) / 2
	out.Reset()
	err = runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish aquarium", K: 5, MinScore: float64(min), JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	res = jsonResult{}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].DocID != "fish.md" {
		t.Fatalf("--min-score %.3f: hits %+v", min, res.Hits)
	}
	// Nothing clears 1: an empty list, not null.
	out.Reset()
	_ = runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "unrelated words", K: 5, MinScore: 1, JSON: true})
	if !strings.Contains(out.String(), `"hits": []`) {
		t.Fatalf("want an empty hits list:\n%s", out.String())
	}
	// Text output honours --min-score too.
	out.Reset()
	_ = runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish aquarium", K: 5, MinScore: float64(min)})
	if !strings.Contains(out.String(), "1 result(s)") || strings.Contains(out.String(), "bread.md") {
		t.Fatalf("text output:\n%s", out.String())
	}
}

// A query embedder of another dimension is refused with a clear error.
func TestSearchRefusesAnotherDimension(t *testing.T) {
	_, st := searchFixture(t)
	var out bytes.Buffer
	err := runSearch(context.Background(), &out, embed.NewHash(384), st, searchOptions{Tenant: "default", Query: "zebrafish", K: 5, MinScore: -1})
	if !errors.Is(err, store.ErrDimension) || !strings.Contains(err.Error(), "384 dimensions") || !strings.Contains(err.Error(), "64-dimensional") {
		t.Fatalf("want a dimension error, got %v", err)
	}
}

// A query embedder of another model than the active namespace's is
// refused naming both; a namespace without a model checks the dimension.
func TestSearchRefusesAnotherModel(t *testing.T) {
	em, st := searchFixture(t)
	var out bytes.Buffer
	ns := store.Namespace{Name: "bge-64", Model: "bge", Dimensions: 64, State: store.StateActive}
	err := runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish", K: 5, MinScore: -1, Namespace: ns})
	if err == nil || !strings.Contains(err.Error(), em.Model()) || !strings.Contains(err.Error(), "model bge (64 dims)") || !strings.Contains(err.Error(), "--model bge") {
		t.Fatalf("want a model error naming both models, got %v", err)
	}
	ns.Model = em.Model()
	if err := runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish", K: 5, MinScore: -1, Namespace: ns}); err != nil {
		t.Fatalf("the namespace's model: %v", err)
	}
	old := store.Namespace{Name: store.DefaultNamespace, State: store.StateActive}
	if err := runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish", K: 5, MinScore: -1, Namespace: old}); err != nil {
		t.Fatalf("a namespace without a model or dimension: %v", err)
	}
	old.Dimensions = 32
	if err := runSearch(context.Background(), &out, em, st, searchOptions{Tenant: "default", Query: "zebrafish", K: 5, MinScore: -1, Namespace: old}); err == nil || !strings.Contains(err.Error(), "32-dimensional") {
		t.Fatalf("a namespace of another dimension without a model: %v", err)
	}
}
