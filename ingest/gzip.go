package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// parserName is the name that chooses a file's parser: for a gzip
// compressed document ("README.gz", "manual.html.gz", "changelog.Debian.gz",
// as Debian ships its documentation), the name without ".gz".
func parserName(path string) string {
	if ext := filepath.Ext(path); strings.EqualFold(ext, ".gz") {
		return path[:len(path)-len(ext)]
	}
	return path
}

// gunzip decompresses a gzip file (all its members), at most limit bytes
// (Loader.MaxBytes, as if the file were not compressed): more is
// ErrExpansion, and a damaged stream ErrCorrupt.
func gunzip(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: not gzip data: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(zr, limit+1))
	if n > limit {
		return nil, fmt.Errorf("%w: the gzip data expands past %d bytes (%s, --max-file-size)", ErrExpansion, limit, humanBytes(limit))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: damaged gzip data: %v", ErrCorrupt, err)
	}
	return buf.Bytes(), nil
}
