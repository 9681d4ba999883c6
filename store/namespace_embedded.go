package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Files of the embedded store's namespace registry, in the location's
// directory. Non-default namespaces live in namespaceDir/NAME.
const (
	registryName     = "namespaces.json"
	registryLockName = "namespaces.lock"
	namespaceDir     = "namespaces"
)

// ErrInUse is matched (errors.Is) by the error of opening an embedded
// store for writing while another process writes it.
var ErrInUse = errors.New("store in use by another writer")

// embeddedNamespaces is the registry of an embedded store location: a
// small JSON file replaced atomically (write, fsync, rename, fsync of
// the directory) under an flock, so readers never see a torn registry.
type embeddedNamespaces struct {
	dir      string
	readOnly bool
}

type registryFile struct {
	Namespaces []Namespace `json:"namespaces"`
}

func openEmbeddedNamespaces(dir string, readOnly bool) (*embeddedNamespaces, error) {
	if !readOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	} else if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("store: no index at %s (run `ragpipe index` first, or pass --store)", dir)
	}
	return &embeddedNamespaces{dir: dir, readOnly: readOnly}, nil
}

// read returns the registry; without its file, the location holds the
// default namespace alone (a store from before namespaces, or a new one).
func (e *embeddedNamespaces) read() ([]Namespace, error) {
	b, err := os.ReadFile(filepath.Join(e.dir, registryName))
	if errors.Is(err, os.ErrNotExist) {
		return []Namespace{{Name: DefaultNamespace, State: StateActive}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading the namespace registry: %w", err)
	}
	var f registryFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("store: the namespace registry %s is corrupt: %w", filepath.Join(e.dir, registryName), err)
	}
	sort.SliceStable(f.Namespaces, func(i, j int) bool { return f.Namespaces[i].CreatedAt.Before(f.Namespaces[j].CreatedAt) })
	return f.Namespaces, nil
}

// update changes the registry under its lock and writes it atomically.
func (e *embeddedNamespaces) update(fn func([]Namespace) ([]Namespace, error)) error {
	if e.readOnly {
		return errReadOnly
	}
	lock, err := os.OpenFile(filepath.Join(e.dir, registryLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("store: locking the namespace registry: %w", err)
	}
	list, err := e.read()
	if err != nil {
		return err
	}
	list, err = fn(list)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(registryFile{Namespaces: list}, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encoding the namespace registry: %w", err)
	}
	return writeAtomic(e.dir, registryName, append(b, '\n'))
}

// writeAtomic replaces dir/name with data: a reader sees the old file or
// the new one, and a crash leaves one of them.
func writeAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	return nil
}

// path is the directory of a namespace's store.
func (e *embeddedNamespaces) path(name string) string {
	if name == DefaultNamespace {
		return e.dir
	}
	return filepath.Join(e.dir, namespaceDir, name)
}

// List implements Namespaces.
func (e *embeddedNamespaces) List(context.Context) ([]Namespace, error) { return e.read() }

// Create implements Namespaces.
func (e *embeddedNamespaces) Create(_ context.Context, name, model string, dim int) (Namespace, error) {
	if err := ValidNamespaceName(name); err != nil {
		return Namespace{}, err
	}
	var out Namespace
	err := e.update(func(list []Namespace) ([]Namespace, error) {
		if ns, ok := Find(list, name); ok {
			if ns.Model != model || ns.Dimensions != dim {
				return nil, fmt.Errorf("store: namespace %s exists for model %s (%d dims), not %s (%d dims); choose another --name", name, ns.Model, ns.Dimensions, model, dim)
			}
			out = ns
			return list, nil
		}
		if err := os.MkdirAll(e.path(name), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		out = Namespace{Name: name, Model: model, Dimensions: dim, State: StateBuilding, CreatedAt: time.Now().UTC()}
		return append(list, out), nil
	})
	return out, err
}

// Activate implements Namespaces.
func (e *embeddedNamespaces) Activate(_ context.Context, name string) error {
	return e.update(func(list []Namespace) ([]Namespace, error) {
		if _, ok := Find(list, name); !ok {
			return nil, fmt.Errorf("store: namespace %s: %w", name, ErrNoNamespace)
		}
		for i := range list {
			switch {
			case list[i].Name == name:
				list[i].State = StateActive
			case list[i].State == StateActive:
				list[i].State = StateRetired
			}
		}
		return list, nil
	})
}

// Drop implements Namespaces. A namespace another process writes (an
// index or reembed worker holding its lock) is refused: stop it first.
func (e *embeddedNamespaces) Drop(_ context.Context, name string) error {
	return e.update(func(list []Namespace) ([]Namespace, error) {
		ns, ok := Find(list, name)
		if !ok {
			return nil, fmt.Errorf("store: namespace %s: %w", name, ErrNoNamespace)
		}
		if ns.State == StateActive {
			return nil, fmt.Errorf("store: namespace %s is the active one; activate another first: %w", name, ErrActiveNamespace)
		}
		dir := e.path(name)
		lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
		if err == nil {
			defer lock.Close()
			if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				return nil, fmt.Errorf("store: namespace %s is open for writing by another process (a running `ragpipe index` or `ragpipe reembed`); stop it first: %w", name, ErrInUse)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store: %w", err)
		}
		if name == DefaultNamespace {
			// The default namespace's log is the location's own: its
			// directory holds the others.
			for _, f := range []string{logName, logName + ".tmp"} {
				if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("store: dropping %s: %w", name, err)
				}
			}
		} else if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("store: dropping %s: %w", name, err)
		}
		out := list[:0]
		for _, n := range list {
			if n.Name != name {
				out = append(out, n)
			}
		}
		return out, nil
	})
}

// Record implements Namespaces.
func (e *embeddedNamespaces) Record(_ context.Context, name, model string, dim int) error {
	return e.update(func(list []Namespace) ([]Namespace, error) {
		for i := range list {
			if list[i].Name == name && list[i].Model == "" {
				list[i].Model, list[i].Dimensions = model, dim
				if list[i].CreatedAt.IsZero() {
					list[i].CreatedAt = time.Now().UTC()
				}
			}
		}
		return list, nil
	})
}

// Len implements Namespaces.
func (e *embeddedNamespaces) Len(ctx context.Context, name string) (int, error) {
	if _, err := os.Stat(filepath.Join(e.path(name), logName)); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	s, err := OpenEmbedded(e.path(name), true)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Len(ctx)
}

// OpenNamespace implements Namespaces. A namespace that holds nothing yet
// opens empty, also read-only.
func (e *embeddedNamespaces) OpenNamespace(_ context.Context, name string, readOnly bool) (Store, error) {
	list, err := e.read()
	if err != nil {
		return nil, err
	}
	if _, ok := Find(list, name); !ok {
		return nil, fmt.Errorf("store: namespace %s of %s: %w", name, e.dir, ErrNoNamespace)
	}
	dir := e.path(name)
	if readOnly {
		if _, err := os.Stat(filepath.Join(dir, logName)); errors.Is(err, os.ErrNotExist) {
			return newEmbedded(dir, true), nil
		}
	}
	return OpenEmbedded(dir, readOnly)
}

// exclusiveWriters: an embedded namespace takes one writer at a time.
func (e *embeddedNamespaces) exclusiveWriters() bool { return true }

// Describe implements Namespaces.
func (e *embeddedNamespaces) Describe() string { return "embedded:" + e.dir }

// Close implements Namespaces.
func (e *embeddedNamespaces) Close() error { return nil }
