package store_test

import (
	"context"
	"testing"

	"github.com/ragpipe/ragpipe/store"
	"github.com/ragpipe/ragpipe/store/storetest"
)

// upgraded checks a store written before namespaces: it is the default
// namespace, active, its dimension known where the store recorded it, and
// its model recorded by the first upsert through the Router.
func upgraded(t *testing.T, loc string, wantDims int) {
	t.Helper()
	nss, err := store.OpenNamespaces(t.Context(), loc, false)
	if err != nil {
		t.Fatal(err)
	}
	defer nss.Close()
	ns, err := store.Active(t.Context(), nss)
	if err != nil || ns.Name != store.DefaultNamespace || ns.Model != "" || ns.Dimensions != wantDims {
		t.Fatalf("an old store's namespace: %+v, %v", ns, err)
	}
	r := store.NewRouter(nss, nil)
	c := storetest.C("t", "b", 1, 0, 1, 0, 1)
	c.Model = "m-a"
	if err := r.Upsert(t.Context(), []store.Chunk{c}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Len(t.Context()); err != nil || n != 2 {
		t.Fatalf("the old store holds %d chunks (%v), want its old one and the new one", n, err)
	}
	list, err := nss.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := store.Find(list, store.DefaultNamespace); d.Model != "m-a" || d.Dimensions != 2 || d.State != store.StateActive {
		t.Fatalf("after the first upsert: %+v", d)
	}
	r.Close()
}

func TestEmbeddedStoreFromBeforeNamespaces(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenEmbedded(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(t.Context(), []store.Chunk{storetest.C("t", "a", 1, 0, 1, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	upgraded(t, dir, 0)
}

// Migration 0004 on a store at version 3 with vectors: the default
// namespace gets the recorded dimension.
func TestPostgresMigration0004KeepsTheStore(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	s, err := store.Open(t.Context(), dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(t.Context(), []store.Chunk{storetest.C("t", "a", 1, 0, 1, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn := connect(t, dsn)
	if _, err := conn.Exec(t.Context(), "DROP TABLE index_namespaces; DELETE FROM schema_migrations WHERE version = 4"); err != nil {
		t.Fatal(err)
	}
	upgraded(t, dsn, 2)
}

// The embedded store takes one writer per namespace: a delete through the
// Router does not keep a building namespace, which `ragpipe reembed`
// writes, nor a retired one, which `reembed --drop` removes.
func TestEmbeddedRouterLetsGoOfNamespacesItOnlyDeletesIn(t *testing.T) {
	dir := t.TempDir()
	nss, err := store.OpenNamespaces(t.Context(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Create(t.Context(), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	if err := r.DeleteDocument(t.Context(), "t", "x", 1); err != nil {
		t.Fatal(err)
	}
	w, err := nss.OpenNamespace(t.Context(), "b", false)
	if err != nil {
		t.Fatalf("the building namespace after a delete through the router: %v", err)
	}
	// While its writer holds it, the router's deletes skip it.
	if err := r.DeleteDocument(t.Context(), "t", "x", 2); err != nil {
		t.Fatalf("a delete while another writer holds a namespace: %v", err)
	}
	w.Close()
}

// Router.Ignores takes the caller's context (the index stage's): a late
// chunk of a version failed through the Router is reported.
func TestRouterIgnoresWithTheCallersContext(t *testing.T) {
	nss, err := store.OpenNamespaces(t.Context(), t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	c := storetest.C("t", "a", 1, 0, 2, 1, 0)
	c.Model = "m"
	if err := r.Upsert(t.Context(), []store.Chunk{c}); err != nil {
		t.Fatal(err)
	}
	if err := r.FailVersion(t.Context(), "t", "a", 1, ""); err != nil {
		t.Fatal(err)
	}
	late := storetest.C("t", "a", 1, 1, 2, 1, 0)
	late.Model = "m"
	var ig interface {
		Ignores(context.Context, store.Chunk) bool
	} = r
	if !ig.Ignores(t.Context(), late) {
		t.Fatal("Ignores: a late chunk of a version failed through the Router")
	}
}
