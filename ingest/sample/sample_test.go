package sample

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestFS(t *testing.T) {
	exts := map[string]int{}
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		exts[filepath.Ext(p)]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if exts[".md"] < 30 || exts[".md"] > 40 || exts[".txt"] < 2 || exts[".html"]+exts[".htm"] < 1 || exts[".pdf"] != 1 {
		t.Errorf("files by extension: %v", exts)
	}
	if _, err := fs.Stat(FS(), "kafka/offsets-and-commits.md"); err != nil {
		t.Error(err)
	}
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := fs.ReadFile(FS(), p)
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
