package ingest

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Zip bomb bounds, on top of limits.expanded (the total of all entries).
const (
	// maxZipRatio is the most an entry may expand relative to its
	// compressed size; office XML compresses 5 to 30 times.
	maxZipRatio = 200
	// minRatioCheck: smaller entries are not judged by their ratio (a
	// few KiB of repeated markup can compress well past it).
	minRatioCheck = 1 << 20
	// maxZipEntries bounds the number of entries an archive may list.
	maxZipEntries = 10000
)

// zipArchive is an office document's zip container, checked against zip
// bombs before any entry is decompressed, and reading entries within the
// limits.
type zipArchive struct {
	r         *zip.Reader
	kind      string // "DOCX", "ODT": names the format in errors
	remaining int64  // decompressed bytes still allowed
}

// openZip opens src as a zip archive. It fails with ErrCorrupt when src is
// not one and with ErrExpansion when the entries declare, together, more
// than lim.expanded bytes, or one of them a ratio over maxZipRatio (the
// declared sizes are checked again while reading: archive/zip fails an
// entry that is longer than it declares).
func openZip(src []byte, kind string, lim limits) (*zipArchive, error) {
	article := "a " + kind
	if strings.HasPrefix(kind, "O") {
		article = "an " + kind
	}
	if !bytes.HasPrefix(src, []byte("PK")) {
		return nil, fmt.Errorf("%w: not a zip archive (%s file is one): it starts with %q", ErrCorrupt, article, src[:min(len(src), 8)])
	}
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		return nil, fmt.Errorf("%w: damaged zip archive (%s file is one): %v", ErrCorrupt, article, err)
	}
	if len(zr.File) > maxZipEntries {
		return nil, fmt.Errorf("%w: the archive lists %d entries (at most %d)", ErrExpansion, len(zr.File), maxZipEntries)
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(lim.expanded) || total < f.UncompressedSize64 {
			return nil, fmt.Errorf("%w: the archive expands to more than %d bytes (%s); a zip bomb?", ErrExpansion, lim.expanded, humanBytes(lim.expanded))
		}
		if f.UncompressedSize64 >= minRatioCheck && f.UncompressedSize64 > uint64(maxZipRatio)*max(f.CompressedSize64, 1) {
			return nil, fmt.Errorf("%w: entry %s expands %d times (%d to %d bytes; at most %d times); a zip bomb?",
				ErrExpansion, f.Name, f.UncompressedSize64/max(f.CompressedSize64, 1), f.CompressedSize64, f.UncompressedSize64, maxZipRatio)
		}
	}
	return &zipArchive{r: zr, kind: kind, remaining: lim.expanded}, nil
}

// file returns the named entry, or nil.
func (a *zipArchive) file(name string) *zip.File {
	for _, f := range a.r.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// read returns the content of the named entry; ok is false when there is
// none. It fails with ErrExpansion past the remaining budget and with
// ErrCorrupt when the entry cannot be decompressed.
func (a *zipArchive) read(name string) (data []byte, ok bool, err error) {
	f := a.file(name)
	if f == nil {
		return nil, false, nil
	}
	data, err = readZipFile(f, a.remaining)
	if err != nil {
		if errors.Is(err, ErrExpansion) {
			return nil, true, err
		}
		return nil, true, fmt.Errorf("%w: %s entry %s: %v", ErrCorrupt, a.kind, name, err)
	}
	a.remaining -= int64(len(data))
	return data, true, nil
}

// readZipFile decompresses f, at most limit bytes.
func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: entry %s expands to %d bytes, over the limit", ErrExpansion, f.Name, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, 64<<20)))
	n, err := io.Copy(&buf, io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: entry %s expands past the limit of %d bytes", ErrExpansion, f.Name, limit)
	}
	return buf.Bytes(), nil
}
