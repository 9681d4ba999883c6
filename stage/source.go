package stage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/ragpipe/ragpipe/ingest"
)

// Sources remembers named document sources, so that a document's identity
// does not depend on the folder named on the command line, and its version
// grows with its content, not with its modification time alone.
//
// A source is (tenant, name) with a root folder, fixed by the first ingest
// that names the source. Every document of it has doc_id NAME/PATH, PATH
// being the file's path relative to the root with '/' separators, whatever
// part of the root a later ingest walks: `ingest --source handbook docs`
// and then `ingest --source handbook docs/runbooks` give a runbook the same
// doc_id. For each document the source keeps the SHA-256 of the file's
// bytes and the version published for it: unchanged bytes keep their
// version (a `touch` makes no new version); changed bytes get the file's
// modification time in Unix milliseconds, or the previous version plus one
// when that is not larger, so versions always grow.
//
// The state is one JSON file (DATA/sources.json), locked while open: it is
// local to the machine that ingests.
type Sources struct {
	path  string
	lock  *os.File
	state sourcesState
}

type sourcesState struct {
	Sources map[string]*sourceState `json:"sources"` // by tenant + "/" + name
}

type sourceState struct {
	Tenant string                  `json:"tenant"`
	Name   string                  `json:"name"`
	Root   string                  `json:"root"`
	Docs   map[string]sourceDocRef `json:"docs"` // by doc_id
}

type sourceDocRef struct {
	Hash    string `json:"hash"` // empty once deleted
	Version int64  `json:"version"`
}

// OpenSources opens (creating if needed) the source registry at path and
// locks it against concurrent ingests.
func OpenSources(path string) (*Sources, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("sources: %s is in use by another ingest: %w", path, err)
	}
	s := &Sources{path: path, lock: lock, state: sourcesState{Sources: map[string]*sourceState{}}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		lock.Close()
		return nil, fmt.Errorf("sources: %w", err)
	default:
		if err := json.Unmarshal(b, &s.state); err != nil {
			lock.Close()
			return nil, fmt.Errorf("sources: %s: %w", path, err)
		}
		if s.state.Sources == nil {
			s.state.Sources = map[string]*sourceState{}
		}
	}
	return s, nil
}

// Save writes the registry atomically (temporary file, fsync, rename).
func (s *Sources) Save() error {
	b, err := json.MarshalIndent(s.state, "", " ")
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	tmp := s.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("sources: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sources: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	return nil
}

// Close releases the lock (without saving).
func (s *Sources) Close() error { return s.lock.Close() }

// Source returns the source (tenant, name) for an ingest of paths. The
// first ingest of a source fixes its root: then paths must be one
// directory. Later, every path must lie under the root.
func (s *Sources) Source(tenant, name string, paths []string) (*Source, error) {
	if name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("source name %q: must be non-empty, without '/', not starting with '.'", name)
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		abs[i] = a
	}
	key := tenant + "/" + name
	st := s.state.Sources[key]
	if st == nil {
		if len(abs) != 1 {
			return nil, fmt.Errorf("source %s is new: its first ingest names its root, one directory (got %d paths)", name, len(abs))
		}
		if info, err := os.Stat(abs[0]); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("source %s is new: its root %s must be a directory", name, paths[0])
		}
		st = &sourceState{Tenant: tenant, Name: name, Root: abs[0], Docs: map[string]sourceDocRef{}}
		s.state.Sources[key] = st
	}
	for i, a := range abs {
		if !under(st.Root, a) {
			return nil, fmt.Errorf("%s is outside %s, the root of source %s (tenant %s); ingest it under another --source", paths[i], st.Root, name, tenant)
		}
	}
	return &Source{st: st, seen: map[string]bool{}}, nil
}

func under(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Source is one named source; see Sources.
type Source struct {
	st   *sourceState
	seen map[string]bool // doc_ids given out by DocID
}

// Root is the source's root folder.
func (src *Source) Root() string { return src.st.Root }

// DocID returns NAME/PATH for a file under the source's root (Ingest.DocID).
func (src *Source) DocID(f ingest.File) (string, error) {
	if !under(src.st.Root, f.Path) {
		return "", fmt.Errorf("%s is outside the root %s of source %s", f.Path, src.st.Root, src.st.Name)
	}
	rel, err := filepath.Rel(src.st.Root, f.Path)
	if err != nil {
		return "", err
	}
	id := src.st.Name + "/" + filepath.ToSlash(rel)
	src.seen[id] = true
	return id, nil
}

// Gone is a document of the source that is no longer on disk.
type Gone struct {
	DocID   string
	Version int64 // the last version published
}

// Missing returns the source's documents under any of paths that this
// ingest did not see (for `ingest --sync`), and marks them deleted: a file
// written again later gets a version above the deleted one.
func (src *Source) Missing(paths []string) ([]Gone, error) {
	var gone []Gone
	for id, ref := range src.st.Docs {
		if ref.Hash == "" || src.seen[id] {
			continue
		}
		file := filepath.Join(src.st.Root, filepath.FromSlash(strings.TrimPrefix(id, src.st.Name+"/")))
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			if under(abs, file) || abs == file {
				gone = append(gone, Gone{DocID: id, Version: ref.Version})
				src.st.Docs[id] = sourceDocRef{Version: ref.Version}
				break
			}
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].DocID < gone[j].DocID })
	return gone, nil
}

// Version returns the document's version from its content (Ingest.Version):
// the remembered version while the bytes are unchanged (hash, FileHash of
// the file), else a larger one.
func (src *Source) Version(f ingest.File, info os.FileInfo, hash string) int64 {
	mtime := info.ModTime().UnixMilli()
	if hash == "" {
		return mtime // unreadable: the load will report the error
	}
	prev, known := src.st.Docs[f.DocID]
	if known && prev.Hash == hash {
		return prev.Version
	}
	v := mtime
	if known && v <= prev.Version {
		v = prev.Version + 1
	}
	src.st.Docs[f.DocID] = sourceDocRef{Hash: hash, Version: v}
	return v
}

// FileHash returns the document hash of a file: the SHA-256 of its
// bytes, "sha256:<lowercase hex>" (ChunkParsed.document_hash, and the
// form of DocumentRaw.content_hash).
func FileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hashPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

const hashPrefix = "sha256:"

// documentHash returns the document hash of data, as FileHash.
func documentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hashPrefix + hex.EncodeToString(sum[:])
}
