package stage

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest"
)

// The records of a document carry its metadata, and each chunk its pages.
func TestChunkRecordsCarryMetadata(t *testing.T) {
	doc := ingest.Document{
		DocID: "manual.pdf", Title: "Manual", MediaType: ingest.MediaPDF,
		Metadata: map[string]string{"author": "Ada", "pages": "3"},
		Blocks: []ingest.Block{
			{Kind: ingest.KindParagraph, Text: "first page text", Page: 1},
			{Kind: ingest.KindParagraph, Text: "second page text", Page: 2},
			{Kind: ingest.KindParagraph, Text: "third page text", Page: 3},
		},
	}
	chunks := ingest.Chunker{MaxTokens: 8}.Split(doc)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	f := ingest.File{Path: "/docs/manual.pdf", DocID: "manual.pdf"}
	recs, err := chunkRecords(event.TopicParsed, "acme", f, 7, "sha256:d0c", doc, chunks, timestamppb.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(chunks) {
		t.Fatalf("%d records for %d chunks", len(recs), len(chunks))
	}
	for i, r := range recs {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		md := m.GetMetadata()
		if md["author"] != "Ada" || md["pages"] != "3" || md["page"] == "" {
			t.Errorf("chunk %d metadata %v", i, md)
		}
		if want := chunks[i].Page; md["page"] != string(rune('0'+want)) {
			t.Errorf("chunk %d page %q, want %d", i, md["page"], want)
		}
		if m.GetMediaType() != ingest.MediaPDF || m.GetTitle() != "Manual" || m.GetChunkIndex() != int32(i) {
			t.Errorf("chunk %d: %v", i, m)
		}
	}
	// A document without metadata gives records without it.
	plain := ingest.Document{DocID: "a.txt", Blocks: []ingest.Block{{Kind: ingest.KindParagraph, Text: "x"}}}
	recs, err = chunkRecords(event.TopicParsed, "acme", ingest.File{DocID: "a.txt"}, 1, "", plain, ingest.DefaultChunker().Split(plain), timestamppb.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := event.DecodeChunkParsed(recs[0]); len(m.GetMetadata()) != 0 {
		t.Errorf("metadata %v", m.GetMetadata())
	}
}
