package stage

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// docRef identifies the document version a record belongs to.
type docRef struct {
	tenant, doc string
	version     int64
	chunk       int32
	source      string
	known       bool // chunk and version are known
}

// refOf reads what it can of a record: the value when it decodes, else the
// key alone.
func refOf(rec *kgo.Record) docRef {
	if rec.Topic == event.TopicRaw {
		if m, err := event.DecodeDocumentRaw(rec); err == nil {
			return docRef{m.GetTenantId(), m.GetDocId(), m.GetDocVersion(), 0, m.GetSource(), false}
		}
	}
	if m, err := event.DecodeChunkParsed(rec); err == nil {
		return docRef{m.GetTenantId(), m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex(), m.GetSource(), true}
	}
	if m, err := event.DecodeChunkEmbedded(rec); err == nil {
		return docRef{m.GetTenantId(), m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex(), m.GetSource(), true}
	}
	tenant, doc, err := event.ParseKey(rec.Key)
	if err != nil {
		return docRef{}
	}
	return docRef{tenant: tenant, doc: doc}
}

// DeadLetter returns the engine's dead-letter function for a stage: the
// original record to documents.dlq with the ragpipe.dlq.* and Kafka
// Connect headers, and a DocumentFailed to documents.failed. The failed
// version is added to failures (when not nil), so that the stage skips the
// rest of its chunks.
func DeadLetter(failures *Failures) engine.DeadLetterFunc {
	return func(rec *kgo.Record, f engine.Failure) []*kgo.Record {
		msg := ""
		if f.Err != nil {
			msg = f.Err.Error()
		}
		outs := []*kgo.Record{event.DeadLetter(rec, event.TopicDLQ, event.DeadLetterInfo{
			Stage: f.Stage, ErrorClass: f.Class.String(), ErrorMessage: msg, Attempts: f.Attempts,
			FirstFailure: f.FirstFailure, LastFailure: f.LastFailure,
		})}
		ref := refOf(rec)
		if ref.doc == "" {
			return outs // not even the key names a document
		}
		if ref.known && failures != nil {
			failures.Add(ref.tenant, ref.doc, ref.version)
		}
		if r := failed(ref, f.Stage, f.Class.String(), msg, f.Attempts, f.LastFailure); r != nil {
			outs = append(outs, r)
		}
		return outs
	}
}

// failed builds a DocumentFailed record keyed by the document.
func failed(ref docRef, stage, class, msg string, attempts int, at time.Time) *kgo.Record {
	df := &ragpipev1.DocumentFailed{
		TenantId: ref.tenant, DocId: ref.doc, DocVersion: ref.version, Stage: stage,
		ErrorClass: class, ErrorMessage: msg, Attempts: int32(attempts), Source: ref.source,
		FailedAt: timestamppb.New(at),
	}
	if ref.known {
		df.ChunkIndex = &ref.chunk
	}
	r, err := event.NewRecord(event.TopicFailed, event.Key(ref.tenant, ref.doc), df)
	if err != nil {
		return nil
	}
	return r
}
