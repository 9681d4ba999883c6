package stage

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/store"
)

func parsedRecord(t *testing.T, doc string, version int64, idx, count int32, text string) *kgo.Record {
	t.Helper()
	r, err := event.NewRecord(event.TopicParsed, event.Key("t", doc), &ragpipev1.ChunkParsed{
		TenantId: "t", DocId: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: count, Text: text, ContentHash: "h",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rejecting fails any request holding the text "poison", naming its index
// within the request.
type rejecting struct{ embed.Embedder }

func (r rejecting) Embed(ctx context.Context, in []string) ([][]float32, error) {
	for i, s := range in {
		if s == "poison" {
			return nil, fault.RecordAt(i, errors.New("rejected"))
		}
	}
	return r.Embedder.Embed(ctx, in)
}

// An undecodable record fails alone, and an input index named by the
// server is mapped back to the batch position it came from.
func TestEmbedMapsErrorsToBatchPositions(t *testing.T) {
	s := &Embed{Embedder: rejecting{embed.NewHash(16)}}
	garbage := &kgo.Record{Topic: event.TopicParsed, Key: event.Key("t", "x"), Value: []byte{0xff, 0xff}}
	batch := []*kgo.Record{parsedRecord(t, "a", 1, 0, 1, "fine"), garbage, parsedRecord(t, "b", 1, 0, 1, "poison")}
	_, err := s.Handle(context.Background(), batch)
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 2 {
		t.Fatalf("want a record error at batch position 2, got %v (index %d)", err, fault.IndexOf(err))
	}
	res, err := s.Handle(context.Background(), batch[:2])
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Outputs) != 1 || res[1].Err == nil || fault.ClassOf(res[1].Err) != fault.ClassRecord {
		t.Fatalf("results %+v", res)
	}
	m, err := event.DecodeChunkEmbedded(res[0].Outputs[0])
	if err != nil || len(m.GetVector()) != 16 || m.GetModel() != "hash-16" {
		t.Fatalf("output %+v %v", m, err)
	}
}

// The chunks of a version that failed are skipped.
func TestEmbedSkipsFailedVersions(t *testing.T) {
	f := NewFailures(10)
	f.Add("t", "a", 1)
	s := &Embed{Embedder: embed.NewHash(8), Failures: f}
	res, err := s.Handle(context.Background(), []*kgo.Record{parsedRecord(t, "a", 1, 3, 5, "x"), parsedRecord(t, "a", 2, 0, 1, "y")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Outputs) != 0 || res[0].Err != nil || len(res[1].Outputs) != 1 {
		t.Fatalf("results %+v", res)
	}
}

func embeddedRecord(t *testing.T, doc string, version int64, idx, count int32) *kgo.Record {
	t.Helper()
	r, err := event.NewRecord(event.TopicEmbedded, event.Key("t", doc), &ragpipev1.ChunkEmbedded{
		TenantId: "t", DocId: doc, DocVersion: version, ChunkIndex: idx, ChunkCount: count, Text: "x",
		ContentHash: "h", Vector: []float32{1, 0}, Model: "m",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// DocumentIndexed is announced once the version's last chunk is stored and
// all of its chunks are there; a DocumentFailed removes the version.
func TestIndexAnnouncesCompleteVersionsAndRemovesFailed(t *testing.T) {
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Index{Store: st}
	ctx := context.Background()
	res, err := s.Handle(ctx, []*kgo.Record{embeddedRecord(t, "a", 1, 0, 2), embeddedRecord(t, "b", 1, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Outputs)+len(res[1].Outputs) != 0 {
		t.Fatal("announced an incomplete version")
	}
	res, err = s.Handle(ctx, []*kgo.Record{embeddedRecord(t, "a", 1, 1, 2)})
	if err != nil || len(res[0].Outputs) != 1 || res[0].Outputs[0].Topic != event.TopicIndexed {
		t.Fatalf("want DocumentIndexed for a: %+v %v", res, err)
	}
	failed, _ := event.NewRecord(event.TopicFailed, event.Key("t", "a"), &ragpipev1.DocumentFailed{
		TenantId: "t", DocId: "a", DocVersion: 1, Stage: "embed", ErrorClass: "record", ErrorMessage: "x", Attempts: 3,
	})
	if _, err := s.Handle(ctx, []*kgo.Record{failed}); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountVersion(ctx, "t", "a", 1); n != 0 {
		t.Fatalf("failed version still has %d chunks", n)
	}
}

// A DocumentDeleted removes the document's versions up to the deleted one;
// a late chunk of a deleted version leaves nothing behind.
func TestIndexAppliesDeletes(t *testing.T) {
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Index{Store: st}
	ctx := context.Background()
	if _, err := s.Handle(ctx, []*kgo.Record{embeddedRecord(t, "a", 1, 0, 2), embeddedRecord(t, "a", 1, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	del, err := event.NewRecord(event.TopicDeleted, event.Key("t", "a"), &ragpipev1.DocumentDeleted{
		TenantId: "t", DocId: "a", DocVersion: 1, Reason: "delete",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Handle(ctx, []*kgo.Record{del, embeddedRecord(t, "a", 1, 1, 2)})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("handle: %v %+v", err, res)
	}
	if len(res[1].Outputs) != 0 {
		t.Fatal("a chunk of a deleted version was announced")
	}
	if n, _ := st.Len(ctx); n != 0 {
		t.Fatalf("%d chunks left after the delete", n)
	}
}
