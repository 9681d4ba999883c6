package blob

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirPutGet(t *testing.T) {
	s, err := Open("file://" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("large document "), 1000)
	ref, err := s.Put(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(t.Context(), data)
	if err != nil || again != ref {
		t.Fatalf("second Put = %q, %v; want the same reference %q", again, err, ref)
	}
	got, err := s.Get(t.Context(), ref, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v (%d bytes)", err, len(got))
	}
	if _, err := s.Get(t.Context(), ref, int64(len(data)-1)); err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("Get over the limit: %v", err)
	}
}

func TestDirRefusesBadReferences(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://" + outside, "file://" + root + "/../etc/passwd", "s3://bucket/key", "not a uri"} {
		if _, err := s.Get(t.Context(), ref, 1<<20); err == nil {
			t.Errorf("Get(%q) succeeded", ref)
		}
	}
	_, err = s.Get(t.Context(), "file://"+filepath.Join(root, "ab", "ab00"), 1<<20)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing blob: %v, want ErrNotFound", err)
	}
	if _, err := Open("s3://bucket"); err == nil || !strings.Contains(err.Error(), "supported") {
		t.Fatalf("Open(s3://): %v", err)
	}
}
