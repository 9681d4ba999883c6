package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultNamespace is the namespace every store location has from the
// start: the tables or directory of a store written before namespaces
// existed. Its model is recorded from its first upsert.
const DefaultNamespace = "default"

// NamespaceState is the life-cycle state of an index namespace.
type NamespaceState string

// The states of a namespace. Exactly one namespace of a location is
// active: searches read it.
const (
	// StateBuilding is a namespace being filled (`ragpipe reembed`).
	StateBuilding NamespaceState = "building"
	// StateActive is the namespace searches read.
	StateActive NamespaceState = "active"
	// StateRetired is a formerly active namespace, kept until dropped.
	StateRetired NamespaceState = "retired"
)

// Namespace is one index namespace of a store location: one embedding
// space (one model, one dimension).
type Namespace struct {
	Name string `json:"name"`
	// Model is the embedding model of the namespace's vectors; "" while
	// none is recorded (the default namespace of an old store, until its
	// next upsert).
	Model string `json:"model"`
	// Dimensions is the vectors' dimension; 0 while none is recorded.
	Dimensions int            `json:"dimensions"`
	State      NamespaceState `json:"state"`
	CreatedAt  time.Time      `json:"created_at"`
}

// Matches reports whether vectors of model and dim belong in ns.
func (ns Namespace) Matches(model string, dim int) bool {
	return ns.Model != "" && ns.Model == model && (ns.Dimensions == 0 || ns.Dimensions == dim)
}

// Namespaces is the registry of a store location's index namespaces.
// Every implementation passes storetest.RunNamespaces.
type Namespaces interface {
	// List returns every namespace, oldest first. It reads the registry
	// on each call, so it sees other processes' changes.
	List(ctx context.Context) ([]Namespace, error)
	// Create adds a namespace in state building for vectors of model and
	// dim. When a namespace of that name exists for the same model and
	// dimension it is returned as is (a re-run resumes); for another model
	// or dimension it is an error.
	Create(ctx context.Context, name, model string, dim int) (Namespace, error)
	// Activate makes the named namespace the active one and retires the
	// previously active one, in one step: a search opened before sees the
	// old one, a search opened after sees the new one.
	Activate(ctx context.Context, name string) error
	// Drop removes a namespace that is not active, with its vectors. The
	// active one is refused (ErrActiveNamespace).
	Drop(ctx context.Context, name string) error
	// Record sets the model and dimension of a namespace that has none
	// recorded yet (the default namespace of an old store); a namespace
	// with a model keeps it.
	Record(ctx context.Context, name, model string, dim int) error
	// Len returns the number of chunks a namespace holds.
	Len(ctx context.Context, name string) (int, error)
	// OpenNamespace opens one namespace as a Store, with the semantics of
	// a single store; readOnly opens it for search.
	OpenNamespace(ctx context.Context, name string, readOnly bool) (Store, error)
	// Describe names the location for logs and events (no credentials).
	Describe() string
	Close() error
}

// Errors of the namespace registry, matched with errors.Is.
var (
	ErrActiveNamespace = errors.New("the namespace is active")
	ErrNoNamespace     = errors.New("no such index namespace")
	// ErrNoModelNamespace is a chunk whose model and dimension no
	// building or active namespace takes (see Router).
	ErrNoModelNamespace = errors.New("no index namespace for the chunk's model")
)

// OpenNamespaces opens the namespace registry of the store location dsn
// (as Open takes it). readOnly opens it for search.
func OpenNamespaces(ctx context.Context, dsn string, readOnly bool) (Namespaces, error) {
	dir, pg, err := location(dsn)
	if err != nil {
		return nil, err
	}
	if pg {
		return openPostgresNamespaces(ctx, PostgresConfig{DSN: dsn, ReadOnly: readOnly})
	}
	return openEmbeddedNamespaces(dir, readOnly)
}

// Active returns the active namespace of nss.
func Active(ctx context.Context, nss Namespaces) (Namespace, error) {
	list, err := nss.List(ctx)
	if err != nil {
		return Namespace{}, err
	}
	return activeOf(list, nss)
}

// activeOf returns the active namespace of list, the registry of nss.
func activeOf(list []Namespace, nss Namespaces) (Namespace, error) {
	for _, ns := range list {
		if ns.State == StateActive {
			return ns, nil
		}
	}
	return Namespace{}, fmt.Errorf("store: %s has no active index namespace: %w", nss.Describe(), ErrNoNamespace)
}

// Find returns the named namespace of list.
func Find(list []Namespace, name string) (Namespace, bool) {
	for _, ns := range list {
		if ns.Name == name {
			return ns, true
		}
	}
	return Namespace{}, false
}

// maxNamespaceName bounds a namespace's name (PostgreSQL schema names
// are at most 63 bytes, and hold the location's schema name too).
const maxNamespaceName = 40

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ValidNamespaceName checks a namespace name: lower-case letters, digits
// and dashes, starting with a letter or digit, at most 40 characters.
func ValidNamespaceName(name string) error {
	if len(name) > maxNamespaceName || !nameRe.MatchString(name) {
		return fmt.Errorf("store: invalid namespace name %q: use lower-case letters, digits and dashes (at most %d)", name, maxNamespaceName)
	}
	return nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// NamespaceName derives a namespace name from a model and a dimension:
// BAAI/bge-small-en-v1.5 with 384 dimensions is bge-small-en-v1-5-384
// (the part after the last slash, lower-cased, other characters as
// dashes, shortened to fit).
func NamespaceName(model string, dim int) string {
	base := strings.ToLower(model)
	if i := strings.LastIndexByte(base, '/'); i >= 0 && i < len(base)-1 {
		base = base[i+1:]
	}
	base = strings.Trim(nonName.ReplaceAllString(base, "-"), "-")
	suffix := "-" + strconv.Itoa(dim)
	if base == "" {
		base = "model"
	}
	if len(base)+len(suffix) > maxNamespaceName {
		base = strings.TrimRight(base[:maxNamespaceName-len(suffix)], "-")
	}
	return base + suffix
}

// NoNamespaceError is a chunk of a model and dimension no building or
// active namespace takes.
type NoNamespaceError struct {
	Model string
	Dim   int
}

func (e *NoNamespaceError) Error() string {
	return fmt.Sprintf("store: no index namespace for model %s (%d dims); run `ragpipe reembed --model %s`", e.Model, e.Dim, e.Model)
}

// Is makes errors.Is(err, ErrNoModelNamespace) hold.
func (e *NoNamespaceError) Is(target error) bool { return target == ErrNoModelNamespace }
