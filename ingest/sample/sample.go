package sample

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:generate go run ./internal/genpdf corpus/operations/on-call-handbook.pdf

// corpus is the embedded tree. embed.FS is immutable.
//
//go:embed corpus
var corpus embed.FS

// FS returns the corpus as a file system rooted at the corpus directory,
// with paths such as "kafka/offsets-and-commits.md".
func FS() fs.FS {
	sub, err := fs.Sub(corpus, "corpus")
	if err != nil {
		panic(fmt.Sprintf("sample: embedded corpus missing: %v", err)) // impossible: checked at build time
	}
	return sub
}

// WriteDir copies the corpus into dir, creating it and its subdirectories
// as needed. Existing files with the same names are overwritten.
func WriteDir(dir string) error {
	fsys := FS()
	return fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("sample: %w", err)
			}
			return nil
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return fmt.Errorf("sample: read %s: %w", path, err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("sample: %w", err)
		}
		return nil
	})
}
