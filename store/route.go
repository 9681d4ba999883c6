package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// routerRefresh is how long the Router trusts its copy of the registry
// for deletes and searches before reading it again (Upsert reads it each
// time).
const routerRefresh = 5 * time.Second

// routedMax bounds the Router's memory of where each version went.
const routedMax = 1 << 16

// Router is a Store over every namespace of a location, for the index
// stage:
//
//   - Upsert sends each chunk to the building or active namespace of its
//     model and dimension. A chunk of a retired namespace's model is
//     skipped with a log line (the new namespace gets the document from
//     `ragpipe reembed --follow` or from embed workers restarted on the
//     new model). A chunk no namespace takes goes into the active one when
//     that has no model recorded yet (which records it), else it is an
//     error (NoNamespaceError, errors.Is ErrNoModelNamespace) and nothing
//     of the call is stored. A chunk without a model goes to the active
//     namespace.
//   - FailVersion, DeleteVersion and DeleteDocument apply to every
//     namespace. A namespace another process writes (the embedded store's
//     one writer: a `ragpipe reembed` building it) is skipped with a log
//     line; reembed applies documents.deleted itself, while failures of
//     the live pipeline are not applied to the namespace it builds (the
//     new model may embed that version fine).
//   - Search, SearchWhere and Len read the active namespace; CountVersion
//     the namespace the version's chunks went to, and Searchable whether
//     that namespace is the active one (a building namespace's versions
//     are stored but not searchable until Activate).
type Router struct {
	nss    Namespaces
	logger *slog.Logger

	// openMu serialises opening a namespace, so that two calls never
	// open the same one twice (the embedded store's one writer).
	openMu sync.Mutex

	mu     sync.Mutex
	list   []Namespace
	listAt time.Time
	open   map[string]*opened
	routed map[verKey]string

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// NewRouter returns a Router over nss; logger nil is slog.Default(). It
// reads the registry every few seconds, also while idle, and lets go of
// namespaces that were retired or dropped (so that an idle index worker
// does not keep `reembed --drop` from taking an embedded namespace).
func NewRouter(nss Namespaces, logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Router{nss: nss, logger: logger, open: map[string]*opened{}, routed: map[verKey]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.refreshLoop()
	return r
}

func (r *Router) refreshLoop() {
	defer close(r.done)
	t := time.NewTicker(routerRefresh)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		idle := len(r.open) == 0
		r.mu.Unlock()
		if idle {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), routerRefresh)
		if _, err := r.namespaces(ctx, true); err != nil {
			r.logger.Debug("store: reading the namespace registry", "err", err)
		}
		cancel()
	}
}

// namespaces returns the registry, read again when older than
// routerRefresh or when fresh is set.
func (r *Router) namespaces(ctx context.Context, fresh bool) ([]Namespace, error) {
	r.mu.Lock()
	if !fresh && r.list != nil && time.Since(r.listAt) < routerRefresh {
		l := r.list
		r.mu.Unlock()
		return l, nil
	}
	r.mu.Unlock()
	l, err := r.nss.List(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.list, r.listAt = l, time.Now()
	// Let go of namespaces dropped or retired: a retired one is opened
	// for each delete only, so that `reembed --drop` can take it. One in
	// use is closed by its last user.
	for name, o := range r.open {
		if ns, ok := Find(l, name); !ok || ns.State == StateRetired {
			r.closeLocked(name, o, true)
		}
	}
	r.mu.Unlock()
	return l, nil
}

// opened is a namespace's writer as the Router holds it.
type opened struct {
	st Store
	// users counts the calls using st now: it is closed only when none
	// does.
	users int
	// writes is set once Upsert wrote into it: the Router is then that
	// namespace's writer, and a delete or failure does not let it go.
	writes bool
	// closing asks the last user to close it (retired or dropped).
	closing bool
}

// store returns the writer of a namespace, opening it on first use, for
// one call, which must hand it back with handBack.
func (r *Router) store(ctx context.Context, name string) (Store, error) {
	if st, ok := r.use(name); ok {
		return st, nil
	}
	r.openMu.Lock()
	defer r.openMu.Unlock()
	if st, ok := r.use(name); ok {
		return st, nil
	}
	st, err := r.nss.OpenNamespace(ctx, name, false)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open[name] = &opened{st: st, users: 1}
	return st, nil
}

// use returns the open writer of a namespace for one call, if any (one
// marked closing too: its last user closes it).
func (r *Router) use(name string) (Store, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.open[name]
	if !ok {
		return nil, false
	}
	o.users++
	return o.st, true
}

// handBack hands back a writer that store returned; wrote marks that the
// call upserted into it; release asks to close it when nobody uses it
// and the Router never wrote into it (a delete or failure in a namespace
// another process may want to write).
func (r *Router) handBack(name string, st Store, wrote, release bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.open[name]
	if !ok || o.st != st {
		return // cannot happen: a writer in use stays in open
	}
	o.users--
	o.writes = o.writes || wrote
	r.closeLocked(name, o, release && !o.writes)
}

// closeLocked closes a writer now when nobody uses it, else marks it for
// its last user to close (when close is set, or it was marked before);
// r.mu is held.
func (r *Router) closeLocked(name string, o *opened, close bool) {
	o.closing = o.closing || close
	if !o.closing || o.users > 0 {
		return
	}
	if err := o.st.Close(); err != nil {
		r.logger.Debug("store: closing an index namespace", "namespace", name, "err", err)
	}
	delete(r.open, name)
}

// pick chooses the namespace of vectors of model and dim (the active one
// when it matches, else the oldest building one): "" with skip set for a
// retired namespace's model.
func pick(list []Namespace, model string, dim int) (name string, record, skip bool) {
	var active Namespace
	building, retired := "", false
	for _, ns := range list {
		if ns.State == StateActive {
			active = ns
		}
		if ns.Matches(model, dim) {
			switch ns.State {
			case StateActive:
				return ns.Name, false, false
			case StateBuilding:
				if building == "" {
					building = ns.Name
				}
			default:
				retired = true
			}
		}
	}
	switch {
	case building != "":
		return building, false, false
	case active.Name != "" && model == "":
		return active.Name, false, false
	case active.Name != "" && active.Model == "":
		return active.Name, true, false
	case retired:
		return "", false, true
	}
	return "", false, false
}

type routeKey struct {
	model string
	dim   int
}

// Upsert implements Store.
func (r *Router) Upsert(ctx context.Context, chunks []Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	groups := map[routeKey][]Chunk{}
	var order []routeKey
	for _, c := range chunks {
		k := routeKey{c.Model, len(c.Vector)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	type target struct {
		name   string
		record bool
		key    routeKey
	}
	// The registry as of now (one small read per upsert): a chunk upserted
	// after Activate returned never goes to the namespace it retired.
	list, err := r.namespaces(ctx, true)
	if err != nil {
		return err
	}
	var targets []target
	for _, k := range order {
		name, record, skip := pick(list, k.model, k.dim)
		switch {
		case skip:
			for _, c := range groups[k] {
				r.logger.Warn("skipping a chunk of a retired namespace's model (run `ragpipe reembed --follow`, or restart the embed workers with the active namespace's model)",
					"model", k.model, "dims", k.dim, "tenant", c.TenantID, "doc", c.DocID, "version", c.DocVersion, "chunk", c.ChunkIndex)
			}
			continue
		case name == "":
			return &NoNamespaceError{Model: k.model, Dim: k.dim}
		}
		targets = append(targets, target{name, record, k})
	}
	for _, t := range targets {
		st, err := r.store(ctx, t.name)
		if err != nil {
			return fmt.Errorf("store: opening namespace %s: %w", t.name, err)
		}
		err = st.Upsert(ctx, groups[t.key])
		r.handBack(t.name, st, true, false)
		if err != nil {
			return fmt.Errorf("store: namespace %s: %w", t.name, err)
		}
		if t.record {
			if err := r.nss.Record(ctx, t.name, t.key.model, t.key.dim); err != nil {
				return err
			}
			if _, err := r.namespaces(ctx, true); err != nil {
				return err
			}
		}
		r.mu.Lock()
		if len(r.routed) >= routedMax {
			clear(r.routed)
		}
		for _, c := range groups[t.key] {
			r.routed[verKey{c.TenantID, c.DocID, c.DocVersion}] = t.name
		}
		r.mu.Unlock()
	}
	return nil
}

// ignorer is a store that tells which chunks Upsert would ignore.
type ignorer interface {
	Ignores(ctx context.Context, c Chunk) bool
}

// Ignores reports whether the namespace c goes to would ignore it (a
// chunk of a failed version), when that store can tell; it reads the
// registry (when its copy is stale) with ctx, and says false when it
// cannot.
func (r *Router) Ignores(ctx context.Context, c Chunk) bool {
	list, err := r.namespaces(ctx, false)
	if err != nil {
		return false
	}
	name, _, skip := pick(list, c.Model, len(c.Vector))
	if skip || name == "" {
		return false
	}
	st, open := r.use(name)
	if !open {
		return false // not open: nothing failed through this Router
	}
	defer r.handBack(name, st, false, false)
	ig, ok := st.(ignorer)
	return ok && ig.Ignores(ctx, c)
}

// each runs fn on the writer of every namespace.
func (r *Router) each(ctx context.Context, what string, fn func(Store) error) error {
	list, err := r.namespaces(ctx, false)
	if err != nil {
		return err
	}
	for _, ns := range list {
		st, err := r.store(ctx, ns.Name)
		if errors.Is(err, ErrInUse) {
			r.logger.Info("namespace open for writing elsewhere; skipped (a reembed applies deletes itself, not failures)", "namespace", ns.Name, "op", what)
			continue
		}
		if errors.Is(err, ErrNoNamespace) {
			continue // dropped meanwhile
		}
		if err != nil {
			return fmt.Errorf("store: opening namespace %s: %w", ns.Name, err)
		}
		err = fn(st)
		r.handBack(ns.Name, st, false, r.releases(ns))
		if err != nil {
			return fmt.Errorf("store: namespace %s: %w", ns.Name, err)
		}
	}
	return nil
}

// exclusive is a registry whose namespaces take one writer at a time
// (the embedded store).
type exclusive interface{ exclusiveWriters() bool }

// releases tells whether the Router lets go of a namespace's writer
// after a delete or failure instead of keeping it: a retired one (so that
// it can be dropped), and, where namespaces take one writer, any but the
// active one (so that `ragpipe reembed` can open it). It is closed only
// when no call uses it and the Router never upserted into it: chunks of
// a building namespace's model keep it open, the Router then being the
// embedded store's one writer of it (see handBack).
func (r *Router) releases(ns Namespace) bool {
	if ns.State == StateRetired {
		return true
	}
	ex, ok := r.nss.(exclusive)
	return ok && ex.exclusiveWriters() && ns.State != StateActive
}

// DeleteVersion implements Store.
func (r *Router) DeleteVersion(ctx context.Context, tenantID, docID string, version int64) error {
	return r.each(ctx, "delete version", func(st Store) error { return st.DeleteVersion(ctx, tenantID, docID, version) })
}

// FailVersion implements Store.
func (r *Router) FailVersion(ctx context.Context, tenantID, docID string, version int64, delivery string) error {
	return r.each(ctx, "fail version", func(st Store) error { return st.FailVersion(ctx, tenantID, docID, version, delivery) })
}

// DeleteDocument implements Store.
func (r *Router) DeleteDocument(ctx context.Context, tenantID, docID string, upTo int64) error {
	return r.each(ctx, "delete document", func(st Store) error { return st.DeleteDocument(ctx, tenantID, docID, upTo) })
}

// activeStore returns the writer of the active namespace and its name,
// for one call (hand it back with handBack).
func (r *Router) activeStore(ctx context.Context) (Store, string, error) {
	list, err := r.namespaces(ctx, false)
	if err != nil {
		return nil, "", err
	}
	ns, err := activeOf(list, r.nss)
	if err != nil {
		return nil, "", err
	}
	st, err := r.store(ctx, ns.Name)
	return st, ns.Name, err
}

// routedTo returns the namespace a version's chunks went to, if any
// went through the Router.
func (r *Router) routedTo(tenantID, docID string, version int64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.routed[verKey{tenantID, docID, version}]
	return name, ok
}

// CountVersion implements Store: in the namespace the version's chunks
// went to (the active one when it does not know).
func (r *Router) CountVersion(ctx context.Context, tenantID, docID string, version int64) (int, error) {
	name, ok := r.routedTo(tenantID, docID, version)
	var (
		st  Store
		err error
	)
	if ok {
		st, err = r.store(ctx, name)
	} else {
		st, name, err = r.activeStore(ctx)
	}
	if err != nil {
		return 0, err
	}
	defer r.handBack(name, st, false, false)
	return st.CountVersion(ctx, tenantID, docID, version)
}

// Searchable reports whether the namespace a version's chunks went to
// is the active one, which search reads: a version of a building
// namespace is stored there but not searchable yet. A version the Router
// does not know (none of its chunks went through it) is the active
// namespace's, as in CountVersion.
func (r *Router) Searchable(ctx context.Context, tenantID, docID string, version int64) (bool, error) {
	name, ok := r.routedTo(tenantID, docID, version)
	if !ok {
		return true, nil
	}
	list, err := r.namespaces(ctx, false)
	if err != nil {
		return false, err
	}
	ns, found := Find(list, name)
	return found && ns.State == StateActive, nil
}

// Search implements Store on the active namespace.
func (r *Router) Search(ctx context.Context, tenantID string, query []float32, k int) ([]Hit, error) {
	return r.SearchWhere(ctx, tenantID, query, k, nil)
}

// SearchWhere implements Store on the active namespace.
func (r *Router) SearchWhere(ctx context.Context, tenantID string, query []float32, k int, where map[string]string) ([]Hit, error) {
	st, name, err := r.activeStore(ctx)
	if err != nil {
		return nil, err
	}
	defer r.handBack(name, st, false, false)
	return st.SearchWhere(ctx, tenantID, query, k, where)
}

// Len implements Store: the active namespace's chunks.
func (r *Router) Len(ctx context.Context) (int, error) {
	st, name, err := r.activeStore(ctx)
	if err != nil {
		return 0, err
	}
	defer r.handBack(name, st, false, false)
	return st.Len(ctx)
}

// Describe implements Store.
func (r *Router) Describe() string { return r.nss.Describe() }

// Close implements Store: it closes every namespace it opened and the
// registry.
func (r *Router) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for name, o := range r.open {
		errs = append(errs, o.st.Close())
		delete(r.open, name)
	}
	errs = append(errs, r.nss.Close())
	return errors.Join(errs...)
}
