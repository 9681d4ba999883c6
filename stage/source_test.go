package stage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/ingest"
)

func sourceFile(t *testing.T, src *Source, path string) (string, int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f := ingest.File{Path: path}
	id, err := src.DocID(f)
	if err != nil {
		t.Fatal(err)
	}
	f.DocID = id
	hash, _ := FileHash(f.Path)
	return id, src.Version(f, info, hash)
}

// A document's id does not depend on the folder walked, and its version
// changes with its bytes only, always growing; the registry survives a
// reopen.
func TestSourceIdentityAndVersions(t *testing.T) {
	docs := filepath.Join(t.TempDir(), "docs")
	runbook := filepath.Join(docs, "runbooks", "restart.md")
	if err := os.MkdirAll(filepath.Dir(runbook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runbook, []byte("# Restart\n\nTurn it off and on.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(t.TempDir(), "sources.json")
	srcs, err := OpenSources(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSources(reg); err == nil {
		t.Fatal("a second ingest opened the registry")
	}
	if _, err := srcs.Source("t", "handbook", []string{filepath.Join(docs, "runbooks"), docs}); err == nil {
		t.Fatal("a new source took two roots")
	}
	src, err := srcs.Source("t", "handbook", []string{docs})
	if err != nil {
		t.Fatal(err)
	}
	id, v1 := sourceFile(t, src, runbook)
	if id != "handbook/runbooks/restart.md" {
		t.Fatalf("doc_id %q", id)
	}
	// touch: same bytes, same version.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(runbook, later, later); err != nil {
		t.Fatal(err)
	}
	if _, v := sourceFile(t, src, runbook); v != v1 {
		t.Fatalf("touch made version %d from %d", v, v1)
	}
	if err := srcs.Save(); err != nil {
		t.Fatal(err)
	}
	srcs.Close()

	// A sub-folder of the root, after a reopen: the same id.
	srcs, err = OpenSources(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	src, err = srcs.Source("t", "handbook", []string{filepath.Join(docs, "runbooks")})
	if err != nil {
		t.Fatal(err)
	}
	if src.Root() != docs {
		t.Fatalf("root %s, want %s", src.Root(), docs)
	}
	if id2, v := sourceFile(t, src, runbook); id2 != id || v != v1 {
		t.Fatalf("via the sub-folder: %s@%d, want %s@%d", id2, v, id, v1)
	}
	// New bytes with an older modification time still make a larger version.
	if err := os.WriteFile(runbook, []byte("# Restart\n\nCall the on-call first.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_000_000, 0)
	if err := os.Chtimes(runbook, old, old); err != nil {
		t.Fatal(err)
	}
	if _, v := sourceFile(t, src, runbook); v != v1+1 {
		t.Fatalf("changed bytes with an old mtime: version %d, want %d", v, v1+1)
	}
	// Outside the root, and bad names, are refused.
	if _, err := srcs.Source("t", "handbook", []string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("a path outside the root: %v", err)
	}
	for _, name := range []string{"", "a/b", ".x"} {
		if _, err := srcs.Source("t", name, []string{docs}); err == nil {
			t.Fatalf("source name %q accepted", name)
		}
	}
	// Another tenant's source of the same name is its own.
	if _, err := srcs.Source("u", "handbook", []string{filepath.Join(docs, "runbooks")}); err != nil {
		t.Fatal(err)
	}
}

// Missing lists the documents under the walked paths that the ingest did
// not see; a document written again gets a version above the deleted one.
func TestSourceMissing(t *testing.T) {
	docs := t.TempDir()
	for _, name := range []string{"a.md", "sub/b.md", "sub/c.md"} {
		p := filepath.Join(docs, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := OpenSources(filepath.Join(t.TempDir(), "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer srcs.Close()
	src, _ := srcs.Source("t", "s", []string{docs})
	versions := map[string]int64{}
	for _, name := range []string{"a.md", "sub/b.md", "sub/c.md"} {
		id, v := sourceFile(t, src, filepath.Join(docs, filepath.FromSlash(name)))
		versions[id] = v
	}
	// A later ingest of sub/ sees only b.md: c.md is gone, a.md was not walked.
	if err := os.Remove(filepath.Join(docs, "sub", "c.md")); err != nil {
		t.Fatal(err)
	}
	src, _ = srcs.Source("t", "s", []string{filepath.Join(docs, "sub")})
	sourceFile(t, src, filepath.Join(docs, "sub", "b.md"))
	gone, err := src.Missing([]string{filepath.Join(docs, "sub")})
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0].DocID != "s/sub/c.md" || gone[0].Version != versions["s/sub/c.md"] {
		t.Fatalf("gone %+v", gone)
	}
	if again, _ := src.Missing([]string{docs}); len(again) != 1 || again[0].DocID != "s/a.md" {
		t.Fatalf("a.md, unseen by this ingest of the whole root, should be gone; c.md only once: %+v", again)
	}
	// c.md comes back, same bytes, old mtime: a version above the deleted one.
	p := filepath.Join(docs, "sub", "c.md")
	if err := os.WriteFile(p, []byte("sub/c.md"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_000, 0)
	_ = os.Chtimes(p, old, old)
	if _, v := sourceFile(t, src, p); v <= versions["s/sub/c.md"] {
		t.Fatalf("re-created c.md got version %d, not above the deleted %d", v, versions["s/sub/c.md"])
	}
}
