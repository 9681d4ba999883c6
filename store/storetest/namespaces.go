package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ragpipe/ragpipe/store"
)

// RunNamespaces runs the namespace cases; location returns a new, empty
// store location (a directory or a DSN), removed by the caller's cleanup.
//
// What a reader sees of a switch: Namespaces.List (and store.Active)
// read the registry on every call, and a Store opened on a namespace
// stays on that namespace. So a search that opens the active namespace
// for each query (as `ragpipe search` does) sees the new one on its next
// query after Activate returns, and never a mix of two.
func RunNamespaces(t *testing.T, location func(t *testing.T) string) {
	cases := []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"DefaultNamespaceAndCreate", testNamespaceCreate},
		{"UpsertIntoTwoNamespaces", testNamespaceIndependent},
		{"ActivateSwitchesSearch", testNamespaceActivate},
		{"ConcurrentSearchDuringSwitch", testNamespaceConcurrentSwitch},
		{"DropRefusesActive", testNamespaceDrop},
		{"RouterByModel", testRouter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, location(t)) })
	}
}

func openNS(t *testing.T, loc string, readOnly bool) store.Namespaces {
	t.Helper()
	nss, err := store.OpenNamespaces(ctx(t), loc, readOnly)
	if err != nil {
		t.Fatalf("open namespaces: %v", err)
	}
	t.Cleanup(func() { nss.Close() })
	return nss
}

func openOne(t *testing.T, nss store.Namespaces, name string, readOnly bool) store.Store {
	t.Helper()
	st, err := nss.OpenNamespace(ctx(t), name, readOnly)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func states(t *testing.T, nss store.Namespaces) map[string]store.NamespaceState {
	t.Helper()
	list, err := nss.List(ctx(t))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	m := map[string]store.NamespaceState{}
	active := 0
	for _, ns := range list {
		m[ns.Name] = ns.State
		if ns.State == store.StateActive {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("want exactly one active namespace, got %d: %+v", active, list)
	}
	return m
}

// mc is C with a model.
func mc(model, tenant, doc string, version int64, idx, count int32, vec ...float32) store.Chunk {
	c := C(tenant, doc, version, idx, count, vec...)
	c.Model = model
	return c
}

// A new location has the default namespace, active; Create adds one in
// state building, a re-run gets it back, another model under its name
// is refused.
func testNamespaceCreate(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	if s := states(t, nss); len(s) != 1 || s[store.DefaultNamespace] != store.StateActive {
		t.Fatalf("a new location: want only default, active: %v", s)
	}
	ns, err := nss.Create(ctx(t), "m-b-2", "m-b", 2)
	if err != nil {
		t.Fatal(err)
	}
	if ns.State != store.StateBuilding || ns.Model != "m-b" || ns.Dimensions != 2 || ns.CreatedAt.IsZero() {
		t.Fatalf("created %+v", ns)
	}
	again, err := nss.Create(ctx(t), "m-b-2", "m-b", 2)
	if err != nil || again.Name != ns.Name || again.State != store.StateBuilding {
		t.Fatalf("a re-run: %+v, %v", again, err)
	}
	if _, err := nss.Create(ctx(t), "m-b-2", "m-c", 2); err == nil {
		t.Fatal("the same name for another model was accepted")
	}
	if _, err := nss.Create(ctx(t), "Bad Name", "m-c", 2); err == nil {
		t.Fatal("an invalid name was accepted")
	}
	if s := states(t, nss); len(s) != 2 || s["m-b-2"] != store.StateBuilding {
		t.Fatalf("list: %v", s)
	}
	if _, err := nss.OpenNamespace(ctx(t), "nope", true); !errors.Is(err, store.ErrNoNamespace) {
		t.Fatalf("opening an unknown namespace: want ErrNoNamespace, got %v", err)
	}
	// Another handle sees it.
	if s := states(t, openNS(t, loc, true)); s["m-b-2"] != store.StateBuilding {
		t.Fatalf("a reader's list: %v", s)
	}
}

// Two namespaces are two stores: each has its own dimension, chunks and
// versions.
func testNamespaceIndependent(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	a := openOne(t, nss, store.DefaultNamespace, false)
	b := openOne(t, nss, "b", false)
	upsert(t, a, C("t", "x", 1, 0, 1, 1, 0, 0), C("t", "y", 1, 0, 1, 0, 1, 0))
	upsert(t, b, C("t", "x", 2, 0, 1, 1, 0))
	if n := length(t, a); n != 2 {
		t.Fatalf("default holds %d chunks, want 2", n)
	}
	if n := length(t, b); n != 1 {
		t.Fatalf("b holds %d chunks, want 1", n)
	}
	if v := versions(search(t, a, "t", 5, 1, 0, 0)); v["x"][1] != 1 || len(v) != 2 {
		t.Fatalf("default: %v", v)
	}
	if v := versions(search(t, b, "t", 5, 1, 0)); v["x"][2] != 1 || len(v) != 1 {
		t.Fatalf("b: %v", v)
	}
	if _, err := b.Search(ctx(t), "t", []float32{1, 0, 0}, 5); !errors.Is(err, store.ErrDimension) {
		t.Fatalf("b took a 3-dimensional query: %v", err)
	}
	if n, err := nss.Len(ctx(t), "b"); err != nil || n != 1 {
		t.Fatalf("Len(b) = %d, %v", n, err)
	}
	if n, err := nss.Len(ctx(t), store.DefaultNamespace); err != nil || n != 2 {
		t.Fatalf("Len(default) = %d, %v", n, err)
	}
}

// activeSearch opens the active namespace and searches it, as `ragpipe
// search` does.
func activeSearch(c context.Context, nss store.Namespaces, q ...float32) (string, []store.Hit, error) {
	ns, err := store.Active(c, nss)
	if err != nil {
		return "", nil, err
	}
	st, err := nss.OpenNamespace(c, ns.Name, true)
	if err != nil {
		return ns.Name, nil, err
	}
	defer st.Close()
	hits, err := st.Search(c, "t", q, 10)
	return ns.Name, hits, err
}

// Activate retires the old active namespace and makes searches read the
// new one; a reader opened before sees the switch on its next search.
func testNamespaceActivate(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	upsert(t, openOne(t, nss, store.DefaultNamespace, false), C("t", "a", 1, 0, 1, 1, 0))
	upsert(t, openOne(t, nss, "b", false), C("t", "b", 1, 0, 1, 1, 0))
	reader := openNS(t, loc, true)
	name, hits, err := activeSearch(ctx(t), reader, 1, 0)
	if err != nil || name != store.DefaultNamespace || len(hits) != 1 || hits[0].DocID != "a" {
		t.Fatalf("before the switch: %s %+v %v", name, hits, err)
	}
	if err := nss.Activate(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	if s := states(t, nss); s["b"] != store.StateActive || s[store.DefaultNamespace] != store.StateRetired {
		t.Fatalf("after Activate: %v", s)
	}
	name, hits, err = activeSearch(ctx(t), reader, 1, 0)
	if err != nil || name != "b" || len(hits) != 1 || hits[0].DocID != "b" {
		t.Fatalf("the reader's next search after the switch: %s %+v %v", name, hits, err)
	}
	// The retired namespace keeps its chunks until dropped.
	if n, err := nss.Len(ctx(t), store.DefaultNamespace); err != nil || n != 1 {
		t.Fatalf("retired default: %d chunks, %v", n, err)
	}
	if err := nss.Activate(ctx(t), "nope"); !errors.Is(err, store.ErrNoNamespace) {
		t.Fatalf("activating an unknown namespace: %v", err)
	}
}

// Readers searching the active namespace while it switches get no error
// and each search answers from one namespace, the old one until they
// first see the new one.
func testNamespaceConcurrentSwitch(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	var as, bs []store.Chunk
	for i := range 5 {
		as = append(as, C("t", fmt.Sprintf("a%d", i), 1, 0, 1, 1, float32(i)/10))
		bs = append(bs, C("t", fmt.Sprintf("b%d", i), 1, 0, 1, 1, float32(i)/10))
	}
	upsert(t, openOne(t, nss, store.DefaultNamespace, false), as...)
	upsert(t, openOne(t, nss, "b", false), bs...)
	c := ctx(t)
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		searches atomic.Int64
		sawB     atomic.Int64
	)
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reader, err := store.OpenNamespaces(c, loc, true)
			if err != nil {
				errs <- err
				return
			}
			defer reader.Close()
			seenB := false
			for !stop.Load() || !seenB {
				_, hits, err := activeSearch(c, reader, 1, 0)
				if err != nil {
					errs <- err
					return
				}
				searches.Add(1)
				if len(hits) != 5 {
					errs <- fmt.Errorf("a search found %d hits, want 5", len(hits))
					return
				}
				prefix := hits[0].DocID[:1]
				for _, h := range hits {
					if !strings.HasPrefix(h.DocID, prefix) {
						errs <- fmt.Errorf("a search mixed namespaces: %+v", hits)
						return
					}
				}
				if seenB && prefix == "a" {
					errs <- errors.New("a search went back to the old namespace")
					return
				}
				if prefix == "b" && !seenB {
					seenB = true
					sawB.Add(1)
				}
			}
		}()
	}
	for searches.Load() < 30 {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
	if err := nss.Activate(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if sawB.Load() != 3 {
		t.Fatalf("%d of 3 readers saw the new namespace", sawB.Load())
	}
	t.Logf("%d searches during the switch", searches.Load())
}

// Drop refuses the active namespace and removes another.
func testNamespaceDrop(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	b := openOne(t, nss, "b", false)
	upsert(t, b, C("t", "b", 1, 0, 1, 1, 0))
	b.Close()
	upsert(t, openOne(t, nss, store.DefaultNamespace, false), C("t", "a", 1, 0, 1, 1, 0, 0))
	if err := nss.Drop(ctx(t), store.DefaultNamespace); !errors.Is(err, store.ErrActiveNamespace) {
		t.Fatalf("dropping the active namespace: want ErrActiveNamespace, got %v", err)
	}
	if err := nss.Drop(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	if s := states(t, nss); len(s) != 1 {
		t.Fatalf("after the drop: %v", s)
	}
	if _, err := nss.OpenNamespace(ctx(t), "b", true); !errors.Is(err, store.ErrNoNamespace) {
		t.Fatalf("opening a dropped namespace: %v", err)
	}
	if err := nss.Drop(ctx(t), "b"); !errors.Is(err, store.ErrNoNamespace) {
		t.Fatalf("dropping it again: %v", err)
	}
	// Created again, it starts empty.
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	if n, err := nss.Len(ctx(t), "b"); err != nil || n != 0 {
		t.Fatalf("a re-created namespace holds %d chunks (%v)", n, err)
	}
	if hits := search(t, openOne(t, nss, store.DefaultNamespace, true), "t", 5, 1, 0, 0); len(hits) != 1 {
		t.Fatalf("the active namespace lost its chunks: %+v", hits)
	}
}

// The Router sends each chunk to its model's namespace, records the
// default namespace's model from its first upsert, refuses a model no
// namespace takes (storing nothing of the call), skips a retired model,
// and applies deletes to every namespace.
func testRouter(t *testing.T, loc string) {
	nss := openNS(t, loc, false)
	r := store.NewRouter(openNS(t, loc, false), nil)
	upsert(t, r, mc("m-a", "t", "x", 1, 0, 1, 1, 0, 0))
	list, err := nss.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := store.Find(list, store.DefaultNamespace); d.Model != "m-a" || d.Dimensions != 3 {
		t.Fatalf("the default namespace's model was not recorded: %+v", d)
	}
	if _, err := nss.Create(ctx(t), "b", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	upsert(t, r, mc("m-b", "t", "x", 1, 0, 1, 1, 0), mc("m-a", "t", "y", 1, 0, 1, 0, 1, 0))
	if n, _ := nss.Len(ctx(t), "b"); n != 1 {
		t.Fatalf("b holds %d chunks, want 1", n)
	}
	if n, _ := nss.Len(ctx(t), store.DefaultNamespace); n != 2 {
		t.Fatalf("default holds %d chunks, want 2", n)
	}
	if n := count(t, r, "t", "x", 1); n != 1 {
		t.Fatalf("CountVersion through the router: %d", n)
	}
	err = r.Upsert(ctx(t), []store.Chunk{mc("m-a", "t", "z", 1, 0, 1, 1, 0, 0), mc("m-c", "t", "z", 1, 0, 1, 1, 0, 0, 0)})
	var ne *store.NoNamespaceError
	if !errors.Is(err, store.ErrNoModelNamespace) || !errors.As(err, &ne) || ne.Model != "m-c" || ne.Dim != 4 ||
		!strings.Contains(err.Error(), "ragpipe reembed --model m-c") {
		t.Fatalf("a model without a namespace: %v", err)
	}
	if n, _ := nss.Len(ctx(t), store.DefaultNamespace); n != 2 {
		t.Fatalf("a refused call stored chunks: default holds %d", n)
	}
	// The same model with another dimension has no namespace either.
	if err := r.Upsert(ctx(t), []store.Chunk{mc("m-b", "t", "z", 1, 0, 1, 1, 0, 0)}); !errors.Is(err, store.ErrNoModelNamespace) {
		t.Fatalf("model m-b with 3 dims: %v", err)
	}
	// A delete reaches every namespace.
	if err := r.DeleteDocument(ctx(t), "t", "x", 1); err != nil {
		t.Fatal(err)
	}
	if n, _ := nss.Len(ctx(t), "b"); n != 0 {
		t.Fatalf("the delete left %d chunks in b", n)
	}
	if n, _ := nss.Len(ctx(t), store.DefaultNamespace); n != 1 {
		t.Fatalf("the delete left %d chunks in default, want 1", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// After the switch the old model's chunks are skipped, the new
	// model's go to the now active namespace.
	if err := nss.Activate(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	r2 := store.NewRouter(openNS(t, loc, false), nil)
	t.Cleanup(func() { r2.Close() })
	upsert(t, r2, mc("m-a", "t", "w", 1, 0, 1, 1, 0, 0), mc("m-b", "t", "w", 1, 0, 1, 1, 0))
	if n, _ := nss.Len(ctx(t), store.DefaultNamespace); n != 1 {
		t.Fatalf("a retired namespace took a chunk: %d", n)
	}
	if hits := search(t, r2, "t", 5, 1, 0); len(hits) != 1 || hits[0].DocID != "w" {
		t.Fatalf("router search of the active namespace: %+v", hits)
	}
	// A second namespace of the active one's model (a rebuild) gets its
	// chunks from its reembed only: the index writes the active one.
	if _, err := nss.Create(ctx(t), "b2", "m-b", 2); err != nil {
		t.Fatal(err)
	}
	upsert(t, r2, mc("m-b", "t", "v", 1, 0, 1, 0, 1))
	if n, _ := nss.Len(ctx(t), "b2"); n != 0 {
		t.Fatalf("a building namespace of the active model took %d chunks", n)
	}
	// A retired namespace still gets deletes, and can be dropped while
	// the router runs.
	if err := r2.DeleteDocument(ctx(t), "t", "y", 1); err != nil {
		t.Fatal(err)
	}
	if n, _ := nss.Len(ctx(t), store.DefaultNamespace); n != 0 {
		t.Fatalf("the delete left %d chunks in the retired namespace", n)
	}
	if err := nss.Drop(ctx(t), store.DefaultNamespace); err != nil {
		t.Fatalf("dropping the retired namespace while a router runs: %v", err)
	}
}
