package ingest

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on a document's metadata, which is copied to every chunk.
const (
	maxMetaKeys     = 64
	maxMetaKeyLen   = 128
	maxMetaValueLen = 1024
)

// Chunk metadata keys, set by ChunkMetadata.
const (
	MetaPage    = "page"     // the page a chunk starts on (PDF)
	MetaPageEnd = "page_end" // the page it ends on, when that is a later one
)

// setMeta records key=value in *m, creating the map, within the bounds:
// keys and values are made valid UTF-8, trimmed and cut to their maximum
// length; empty ones and keys past the maximum count are dropped; a key
// already set keeps its first value.
func setMeta(m *map[string]string, key, value string) {
	key = clip(strings.TrimSpace(key), maxMetaKeyLen)
	value = clip(strings.TrimSpace(value), maxMetaValueLen)
	if key == "" || value == "" {
		return
	}
	if *m == nil {
		*m = make(map[string]string)
	}
	if _, ok := (*m)[key]; ok || len(*m) >= maxMetaKeys {
		return
	}
	(*m)[key] = value
}

// clip makes s valid UTF-8 without control characters and cuts it to at
// most n bytes at a rune boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ChunkMetadata returns the metadata of one chunk of doc: a copy of the
// document's metadata, plus MetaPage (and MetaPageEnd when the chunk runs
// over several pages) for paginated documents, which replace document
// metadata of the same name. Nil when there is none.
func ChunkMetadata(doc Document, c Chunk) map[string]string {
	if len(doc.Metadata) == 0 && c.Page == 0 {
		return nil
	}
	m := make(map[string]string, len(doc.Metadata)+2)
	for k, v := range doc.Metadata {
		m[k] = v
	}
	if c.Page > 0 {
		m[MetaPage] = strconv.Itoa(c.Page)
		delete(m, MetaPageEnd)
		if c.PageEnd > c.Page {
			m[MetaPageEnd] = strconv.Itoa(c.PageEnd)
		}
	}
	return m
}
