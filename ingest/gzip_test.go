package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestLoadGzip(t *testing.T) {
	doc := mustLoad(t, "guide.md.gz", gz(t, "# Guide\n\nCompressed text.\n"))
	if doc.MediaType != MediaMarkdown || doc.Title != "Guide" || len(doc.Blocks) != 2 {
		t.Errorf("guide.md.gz: %q %q %d", doc.MediaType, doc.Title, len(doc.Blocks))
	}
	doc = mustLoad(t, "changelog.Debian.gz", gz(t, "pkg (1.0) unstable; urgency=low\n\n  * First release.\n"))
	if doc.MediaType != MediaText || doc.Title != "changelog" {
		t.Errorf("changelog.Debian.gz: %q %q", doc.MediaType, doc.Title)
	}
	doc = mustLoad(t, "README.gz", gz(t, "Plain notes.\n"))
	if doc.MediaType != MediaText || doc.Title != "README" {
		t.Errorf("README.gz: %q %q", doc.MediaType, doc.Title)
	}
	tests := []struct {
		name, content string
		l             Loader
		want          error
		msg           string
	}{
		{"x.txt.gz", "not gzip at all", Loader{}, ErrCorrupt, "not gzip data"},
		{"x.txt.gz", gz(t, "some text that is cut")[:20], Loader{}, ErrCorrupt, "damaged gzip"},
		{"x.txt.gz", gz(t, strings.Repeat("a", 5000)), Loader{MaxBytes: 1000}, ErrExpansion, "expands past 1000 bytes"},
		{"x.tar.gz", gz(t, "tar"), Loader{}, ErrUnsupported, `".tar"`},
	}
	for _, tt := range tests {
		_, err := loadString(t, tt.l, tt.name, tt.content)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v with %q", tt.name, err, tt.want, tt.msg)
		}
	}
}
