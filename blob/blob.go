package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Store keeps contents and gives references to them.
type Store interface {
	// Put stores data and returns its reference (a URI).
	Put(ctx context.Context, data []byte) (string, error)
	// Get returns the content of ref, refusing one over maxBytes.
	Get(ctx context.Context, ref string, maxBytes int64) ([]byte, error)
}

// ErrNotFound is wrapped by Get's error for a reference with no blob.
var ErrNotFound = errors.New("blob not found")

// Open returns the store at location: a directory path or a file:// URI.
// Other schemes are an error that lists the supported ones.
func Open(location string) (Store, error) {
	dir := location
	if strings.Contains(location, "://") {
		u, err := url.Parse(location)
		if err != nil {
			return nil, fmt.Errorf("blob store %q: %w", location, err)
		}
		if u.Scheme != "file" {
			return nil, fmt.Errorf("blob store %q: unsupported scheme %q (supported: a directory path or file:///path)", location, u.Scheme)
		}
		dir = u.Path
	}
	if dir == "" {
		return nil, errors.New("blob store: empty location")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob store %q: %w", location, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &Dir{root: abs}, nil
}

// Dir is a Store in a directory: blob <sha256> lives at <root>/<2 hex>/<sha256>.
type Dir struct{ root string }

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(sum string) string { return filepath.Join(d.root, sum[:2], sum) }

// Put stores data under its SHA-256 and returns file://<path>.
func (d *Dir) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	p := d.path(sum)
	ref := (&url.URL{Scheme: "file", Path: p}).String()
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(data)) {
		return ref, nil // content-addressed: already there
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("blob: writing %s: %w", p, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("blob: syncing %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	return ref, nil
}

// Get reads the blob ref names; the reference must lie inside the store.
func (d *Dir) Get(ctx context.Context, ref string, maxBytes int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return nil, fmt.Errorf("blob: reference %q is not a file:// URI", ref)
	}
	p := filepath.Clean(u.Path)
	if rel, err := filepath.Rel(d.root, p); err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("blob: reference %q is outside the store %s", ref, d.root)
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("blob: %s: %w", ref, ErrNotFound)
		}
		return nil, fmt.Errorf("blob: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("blob: reading %s: %w", ref, err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("blob: %s is over %d bytes", ref, maxBytes)
	}
	return data, nil
}
