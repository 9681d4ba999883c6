package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// In the embedded store, a building namespace the Router writes into (the
// embed workers already on the new model) stays open after a delete
// through the Router: its writer is the Router's, and closing it would
// pull it from under a concurrent Upsert. Only one that the Router opened
// for the delete alone is let go.
func TestEmbeddedRouterKeepsANamespaceItWritesInto(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	nss, err := store.OpenNamespaces(ctx, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Create(ctx, "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	c := storetest.C("t", "a", 1, 0, 2, 0, 1)
	c.Model = "m-b"
	if err := r.Upsert(ctx, []store.Chunk{c}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteDocument(ctx, "t", "x", 1); err != nil {
		t.Fatal(err)
	}
	if w, err := nss.OpenNamespace(ctx, "b", false); !errors.Is(err, store.ErrInUse) {
		if err == nil {
			w.Close()
		}
		t.Fatalf("the namespace the Router writes was let go by a delete: another writer opened it (%v)", err)
	}
	c2 := storetest.C("t", "a", 1, 1, 2, 0, 1)
	c2.Model = "m-b"
	if err := r.Upsert(ctx, []store.Chunk{c2}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.CountVersion(ctx, "t", "a", 1); err != nil || n != 2 {
		t.Fatalf("the building namespace holds %d chunks of a (%v), want 2", n, err)
	}
}

// Deletes and upserts through one Router from many goroutines: no call
// uses a namespace's writer after the Router closed it (run with -race;
// a closed embedded store refuses writes).
func TestEmbeddedRouterConcurrentDeletesAndUpserts(t *testing.T) {
	ctx := t.Context()
	nss, err := store.OpenNamespaces(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Create(ctx, "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				c := storetest.C("t", fmt.Sprintf("d%d-%d", g, i), 1, 0, 1, 0, 1)
				c.Model = "m-b"
				if err := r.Upsert(ctx, []store.Chunk{c}); err != nil {
					errs <- err
				}
				if err := r.DeleteDocument(ctx, "t", fmt.Sprintf("x%d-%d", g, i), 1); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := nss.Len(ctx, "b"); err != nil || n != 100 {
		t.Fatalf("the building namespace holds %d chunks (%v), want 100", n, err)
	}
}
