package ingest

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/ragpipe/ragpipe/ingest/sample"
)

// TestSampleCorpus walks, loads and chunks the built-in corpus from disk,
// as the demo does.
func TestSampleCorpus(t *testing.T) {
	dir := t.TempDir()
	if err := sample.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	l, c := DefaultLoader(), DefaultChunker()
	media := map[string]int{}
	folders := map[string]bool{}
	var ids []string
	err := Walk(context.Background(), dir, func(f File) error {
		ids = append(ids, f.DocID)
		doc, err := l.Load(f)
		if err != nil {
			return err
		}
		media[doc.MediaType]++
		if doc.MediaType == MediaPDF {
			for _, ch := range c.Split(doc) {
				if ch.Page < 1 || ChunkMetadata(doc, ch)[MetaPage] == "" || doc.Metadata["author"] == "" {
					t.Errorf("%s: chunk %d without page or metadata", f.DocID, ch.Index)
				}
			}
		}
		if i := strings.IndexByte(f.DocID, '/'); i > 0 {
			folders[f.DocID[:i]] = true
		}
		if doc.Title == "" || strings.HasSuffix(doc.Title, path.Ext(f.DocID)) {
			t.Errorf("%s: title %q", f.DocID, doc.Title)
		}
		chunks := c.Split(doc)
		checkChunks(t, c, doc, chunks)
		if doc.MediaType == MediaMarkdown {
			words := 0
			for _, b := range doc.Blocks {
				words += len(strings.Fields(b.Text))
			}
			if words < 300 || words > 900 {
				t.Errorf("%s: %d words, want 300 to 900", f.DocID, words)
			}
			kinds := map[Kind]bool{}
			for _, b := range doc.Blocks {
				kinds[b.Kind] = true
			}
			for _, k := range []Kind{KindHeading, KindParagraph, KindListItem} {
				if !kinds[k] {
					t.Errorf("%s: no %s block", f.DocID, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := media[MediaMarkdown]; n < 30 || n > 40 {
		t.Errorf("%d Markdown documents, want 30 to 40", n)
	}
	if media[MediaText] < 2 || media[MediaHTML] < 1 || media[MediaPDF] < 1 {
		t.Errorf("media types %v: want every loader exercised", media)
	}
	if len(folders) < 2 {
		t.Errorf("folders %v", folders)
	}
	t.Logf("%d documents in %d folders: %v", len(ids), len(folders), media)
}

// TestSampleFS loads the corpus straight from the embedded file system.
func TestSampleFS(t *testing.T) {
	fsys := sample.FS()
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if _, err := DefaultLoader().LoadBytes(File{Path: p, DocID: p}, data); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 33 {
		t.Errorf("only %d files", n)
	}
}
