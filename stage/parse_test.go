package stage

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/ragpipe/ragpipe/blob"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	"github.com/ragpipe/ragpipe/ingest"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func rawRecord(t *testing.T, m *ragpipev1.DocumentRaw) *kgo.Record {
	t.Helper()
	if m.ContentHash == "" {
		m.ContentHash = "sha256:" + ingest.ContentHash(string(m.GetContent()))
	}
	if c := m.GetContent(); c != nil {
		m.ContentSize = int64(len(c))
	}
	rec, err := event.NewRecord(event.TopicRaw, event.Key(m.TenantId, m.DocId), m)
	if err != nil {
		t.Fatal(err)
	}
	rec.Topic = event.TopicRaw
	return rec
}

func TestParseInlineAndBlob(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	md := []byte("---\nteam: search\n---\n# Runbook\n\nRestart the consumer group.\n\n## Lag\n\nWatch the lag.\n")
	ref, err := bs.Put(t.Context(), md)
	if err != nil {
		t.Fatal(err)
	}
	p := &Parse{Blobs: bs}
	inline := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "ops/runbook.md", DocVersion: 7,
		Source: "/docs/ops/runbook.md", Body: &ragpipev1.DocumentRaw_Content{Content: md}})
	byRef := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "ops/big.md", DocVersion: 8,
		Source: "/docs/ops/big.md", ContentSize: int64(len(md)), ContentHash: "sha256:" + ingest.ContentHash(string(md)),
		Body: &ragpipev1.DocumentRaw_ContentRef{ContentRef: ref}})
	res, err := p.Handle(t.Context(), []*kgo.Record{inline, byRef})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || len(r.Outputs) == 0 {
			t.Fatalf("record %d: %v, %d outputs", i, r.Err, len(r.Outputs))
		}
		for j, out := range r.Outputs {
			m, err := event.DecodeChunkParsed(out)
			if err != nil {
				t.Fatal(err)
			}
			if int(m.ChunkIndex) != j || m.Metadata["team"] != "search" || m.TenantId != "t" {
				t.Fatalf("record %d chunk %d: %+v", i, j, m)
			}
		}
	}
	if m, _ := event.DecodeChunkParsed(res[1].Outputs[0]); m.DocId != "ops/big.md" || m.DocVersion != 8 {
		t.Fatalf("blob document parsed as %s v%d", m.DocId, m.DocVersion)
	}
}

// Every way a document can fail is a record error on that document alone.
func TestParseFailuresAreRecordErrors(t *testing.T) {
	bs, _ := blob.Open(t.TempDir())
	p := &Parse{Blobs: bs, Timeout: time.Microsecond}
	big := []byte(strings.Repeat("# Heading\n\nA paragraph of a long document that takes a while to chunk.\n\n", 40000))
	slow := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "slow.md", Source: "slow.md", Body: &ragpipev1.DocumentRaw_Content{Content: big}})
	missing := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "gone.md", Source: "gone.md", ContentSize: 10,
		ContentHash: "sha256:00", Body: &ragpipev1.DocumentRaw_ContentRef{ContentRef: "file://" + t.TempDir() + "/x"}})
	corrupt := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "bad.pdf", Source: "bad.pdf",
		Body: &ragpipev1.DocumentRaw_Content{Content: []byte("%PDF-1.7\n garbage")}})
	junk := &kgo.Record{Topic: event.TopicRaw, Key: []byte("t/junk"), Value: []byte{0xff, 0x01, 0x02}}
	res, err := p.Handle(t.Context(), []*kgo.Record{slow, missing, junk})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err == nil || fault.ClassOf(r.Err) != fault.ClassRecord {
			t.Fatalf("record %d: %v, want a record error", i, r.Err)
		}
	}
	if !errors.Is(res[0].Err, ErrParseTimeout) {
		t.Fatalf("slow document: %v, want a parse timeout", res[0].Err)
	}
	p.Timeout = 0
	res, _ = p.Handle(context.Background(), []*kgo.Record{corrupt})
	if res[0].Err == nil || fault.ClassOf(res[0].Err) != fault.ClassRecord {
		t.Fatalf("corrupt PDF: %v", res[0].Err)
	}
	// The dead-letter records of a raw document name it.
	outs := DeadLetter(nil)(corrupt, engineFailure("parse", res[0].Err))
	if len(outs) != 2 {
		t.Fatalf("%d dead-letter records, want the DLQ record and a DocumentFailed", len(outs))
	}
	var df ragpipev1.DocumentFailed
	if err := proto.Unmarshal(outs[1].Value, &df); err != nil || df.DocId != "bad.pdf" || df.Stage != "parse" {
		t.Fatalf("DocumentFailed %+v (%v)", &df, err)
	}
}

func engineFailure(stage string, err error) engine.Failure {
	now := time.Now()
	return engine.Failure{Stage: stage, Err: err, Class: fault.ClassRecord, Attempts: 3, FirstFailure: now, LastFailure: now}
}
