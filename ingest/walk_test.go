package ingest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path -> content, '/' separated) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func collect(t *testing.T, root string) ([]File, error) {
	t.Helper()
	var got []File
	err := Walk(context.Background(), root, func(f File) error {
		got = append(got, f)
		return nil
	})
	return got, err
}

func docIDs(files []File) []string {
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.DocID
	}
	return ids
}

func TestWalk(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"b.md":               "# b",
		"a/x.txt":            "x",
		"a/b/c.html":         "<p>c</p>",
		"a/b/d.pdf":          "%PDF",
		"a/.hidden.md":       "hidden",
		".git/config":        "[core]",
		"Z.md":               "upper case sorts first",
		"a-b/y.md":           "y",
		"empty/.keep":        "",
		"nested/deep/z.md":   "z",
		"nested/.cache/q.md": "q",
	})
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	link("..", "a/b/loop")                            // a loop back up the tree
	link("missing.md", "dangling.md")                 // points at nothing
	link(filepath.Join(dir, "a", "x.txt"), "link.md") // a link to a file is followed
	link(filepath.Join(dir, "nested"), "zz-linked")   // a link to a directory outside the loop is followed

	got, err := collect(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Z.md",
		"a/b/c.html",
		"a/b/d.pdf",
		"a/x.txt",
		"a-b/y.md",
		"b.md",
		"link.md",
		"nested/deep/z.md",
		"zz-linked/deep/z.md",
	}
	if ids := docIDs(got); !reflect.DeepEqual(ids, want) {
		t.Fatalf("DocIDs:\n got  %q\n want %q", ids, want)
	}
	for _, f := range got {
		if !filepath.IsAbs(f.Path) {
			t.Errorf("%s: Path %q is not absolute", f.DocID, f.Path)
		}
		info, err := os.Stat(f.Path)
		if err != nil {
			t.Errorf("%s: %v", f.DocID, err)
			continue
		}
		if info.Size() != f.Size {
			t.Errorf("%s: Size %d, want %d", f.DocID, f.Size, info.Size())
		}
		if strings.Contains(f.DocID, `\`) {
			t.Errorf("DocID %q has a backslash", f.DocID)
		}
	}

	// A second walk gives the same result.
	again, err := collect(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, again) {
		t.Error("two walks of the same tree differ")
	}
}

func TestWalkRoots(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"docs/guide.md":         "# guide",
		".corpus/inside.txt":    "hidden root is still walked",
		".corpus/.skip/hid.txt": "but hidden entries below it are not",
	})
	tests := []struct {
		name    string
		root    string
		want    []string
		wantErr string
	}{
		{name: "directory", root: filepath.Join(dir, "docs"), want: []string{"guide.md"}},
		{name: "single file", root: filepath.Join(dir, "docs", "guide.md"), want: []string{"guide.md"}},
		{name: "hidden root", root: filepath.Join(dir, ".corpus"), want: []string{"inside.txt"}},
		{name: "relative root", root: "testdata-does-not-exist", wantErr: `ingest: path "testdata-does-not-exist" does not exist`},
		{name: "missing", root: filepath.Join(dir, "nope"), wantErr: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, tt.root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ids := docIDs(got); !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("DocIDs = %q, want %q", ids, tt.want)
			}
		})
	}
}

func TestWalkStops(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.md": "a", "b.md": "b", "c.md": "c"})

	stop := errors.New("stop")
	n := 0
	err := Walk(context.Background(), dir, func(File) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("callback error: err = %v after %d files, want stop after 2", err, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Walk(ctx, dir, func(File) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancel: err = %v after %d files, want context.Canceled after 1", err, n)
	}
}
