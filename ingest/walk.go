package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is one regular file found by Walk.
type File struct {
	// Path is the file's absolute OS path, used to open it.
	Path string
	// DocID identifies the document: the file's path relative to the root
	// given to Walk, with '/' separators (e.g. "kafka/offsets.md"). When the
	// root is a single file, DocID is its base name.
	DocID string
	// Size is the file's size in bytes when it was listed.
	Size int64
}

// notExistError is returned by Walk for a root that does not exist.
type notExistError struct{ path string }

func (e *notExistError) Error() string {
	return fmt.Sprintf("ingest: path %q does not exist", e.path)
}

// Is makes errors.Is(err, fs.ErrNotExist) true.
func (e *notExistError) Is(target error) bool { return target == fs.ErrNotExist }

// Walk calls fn for every regular file under root, in lexical order of their
// DocIDs' path elements (the order of a sorted directory listing, depth
// first). root may be a directory or a single file.
//
// Names that start with '.' are skipped below root (hidden files and
// directories such as .git); root itself is walked whatever its name.
// Symbolic links are followed; a link that points at one of its own
// ancestor directories (a loop), or at nothing, is skipped. Devices, pipes
// and sockets are skipped.
//
// Walk yields every regular file whatever its extension: Load reports the
// types it cannot read with ErrUnsupported, so that the caller can tell the
// user which files were left out.
//
// Walk stops at the first error returned by fn, and returns it unchanged.
// It returns ctx.Err() when ctx is cancelled, and an error wrapping
// fs.ErrNotExist when root does not exist.
func Walk(ctx context.Context, root string, fn func(f File) error) error {
	info, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &notExistError{path: root}
		}
		return fmt.Errorf("ingest: path %q: %w", root, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("ingest: path %q: %w", root, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case info.Mode().IsRegular():
		return fn(File{Path: abs, DocID: filepath.Base(abs), Size: info.Size()})
	case info.IsDir():
		w := walker{ctx: ctx, fn: fn}
		return w.dir(abs, "", []os.FileInfo{info})
	default:
		return fmt.Errorf("ingest: path %q is neither a regular file nor a directory", root)
	}
}

type walker struct {
	ctx context.Context
	fn  func(File) error
}

// dir walks the directory at path, whose DocID prefix is rel ("" for the
// root). ancestors holds the FileInfo of path and of every directory above
// it up to the root, to detect symlink loops.
func (w *walker) dir(path, rel string, ancestors []os.FileInfo) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("ingest: read directory %q: %w", path, err)
	}
	// os.ReadDir sorts by file name already; sort again so the order does
	// not depend on that detail.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		full := filepath.Join(path, name)
		docID := name
		if rel != "" {
			docID = rel + "/" + name
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we were walking
			}
			return fmt.Errorf("ingest: %q: %w", full, err)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			info, err = os.Stat(full)
			if err != nil {
				continue // dangling link, or a loop of links (ELOOP)
			}
		}
		switch {
		case info.Mode().IsRegular():
			if err := w.fn(File{Path: full, DocID: docID, Size: info.Size()}); err != nil {
				return err
			}
		case info.IsDir():
			if isAncestor(info, ancestors) {
				continue // a link back up the tree: following it never ends
			}
			if err := w.dir(full, docID, append(ancestors, info)); err != nil {
				return err
			}
		}
	}
	return nil
}

func isAncestor(info os.FileInfo, ancestors []os.FileInfo) bool {
	for _, a := range ancestors {
		if os.SameFile(a, info) {
			return true
		}
	}
	return false
}
