package stage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/blob"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	"github.com/ragpipe/ragpipe/ingest"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Defaults of the parse stage.
const (
	ParseGroup          = "ragpipe-parse"
	ParseBatchSize      = 1 // one document per batch: a slow one holds back nothing else
	DefaultParseTimeout = 30 * time.Second
)

// ErrParseTimeout is wrapped by the (record-class) error of a document
// whose parser did not finish within Parse.Timeout.
var ErrParseTimeout = errors.New("parser did not finish in time")

// Parse turns DocumentRaw records into ChunkParsed records, with the same
// loader and chunker as the ingest command. Every failure is the
// document's (a record error: counted, and after the engine's attempts the
// raw record goes to the DLQ with a DocumentFailed of stage "parse"): an
// undecodable record, a missing blob, a parser error, a parser that
// panics, a parser that runs past Timeout (it is abandoned: Go cannot stop
// it, but its result is dropped and the worker goes on), and a document
// over the loader's size and expansion bounds.
type Parse struct {
	Loader  ingest.Loader
	Chunker ingest.Chunker
	// Blobs resolves content references; nil refuses them.
	Blobs blob.Store
	// Timeout bounds one document's parsing (default DefaultParseTimeout).
	Timeout time.Duration
}

// Handle is the engine handler: each record parsed on its own.
func (s *Parse) Handle(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
	res := make([]engine.Result, len(batch))
	for i, r := range batch {
		outs, err := s.one(ctx, r)
		if err != nil && fault.ClassOf(err) == fault.ClassServer && ctx.Err() == nil {
			err = fault.Record(err) // nothing here is a server's fault
		}
		res[i] = engine.Result{Outputs: outs, Err: err}
	}
	return res, nil
}

func (s *Parse) one(ctx context.Context, r *kgo.Record) ([]*kgo.Record, error) {
	m, err := event.DecodeDocumentRaw(r)
	if err != nil {
		return nil, err
	}
	prio, _ := event.Header(r, event.HeaderPriority)
	p, err := event.ParsePriority(prio)
	if err != nil {
		return nil, fault.Record(fmt.Errorf("%s: header %s: %w", m.GetDocId(), event.HeaderPriority, err))
	}
	data, err := s.content(ctx, m)
	if err != nil {
		return nil, fault.Record(fmt.Errorf("%s: %w", m.GetDocId(), err))
	}
	f := ingest.File{Path: parseName(m), DocID: m.GetDocId(), Size: int64(len(data))}
	doc, chunks, err := s.parse(ctx, f, data)
	if err != nil {
		return nil, fault.Record(fmt.Errorf("%s: %w", m.GetDocId(), err))
	}
	if len(chunks) == 0 {
		return nil, fault.Record(fmt.Errorf("%s: no text to index", m.GetDocId()))
	}
	f.Path = m.GetSource()
	return chunkRecords(event.PriorityTopic(p), m.GetTenantId(), f, m.GetDocVersion(), rawDocumentHash(m, data), doc, chunks, timestamppb.Now())
}

// rawDocumentHash is the document hash of a raw document: its
// content_hash, when that is the SHA-256 of the bytes parsed (the form
// `ragpipe submit` writes, "sha256:<hex>"); else empty (another
// producer's hash, of another algorithm or of other bytes), and the
// version is not cataloged.
func rawDocumentHash(m *ragpipev1.DocumentRaw, data []byte) string {
	ch := m.GetContentHash()
	if !strings.HasPrefix(ch, hashPrefix) {
		return ""
	}
	if h := documentHash(data); h == ch {
		return h
	}
	return ""
}

func (s *Parse) content(ctx context.Context, m *ragpipev1.DocumentRaw) ([]byte, error) {
	switch b := m.GetBody().(type) {
	case *ragpipev1.DocumentRaw_Content:
		return b.Content, nil
	case *ragpipev1.DocumentRaw_ContentRef:
		if s.Blobs == nil {
			return nil, fmt.Errorf("content in %s but no blob store is configured (--blobs)", b.ContentRef)
		}
		max := s.Loader.MaxBytes
		if max <= 0 {
			max = ingest.DefaultMaxBytes
		}
		return s.Blobs.Get(ctx, b.ContentRef, max)
	}
	return nil, errors.New("no content")
}

// parse loads and chunks data within the timeout, turning a panic into an
// error.
func (s *Parse) parse(ctx context.Context, f ingest.File, data []byte) (ingest.Document, []ingest.Chunk, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultParseTimeout
	}
	type result struct {
		doc    ingest.Document
		chunks []ingest.Chunk
		err    error
	}
	done := make(chan result, 1) // buffered: an abandoned parser does not leak blocked
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("parser panicked: %v", p)}
			}
			done <- r
		}()
		r.doc, r.err = s.Loader.LoadBytes(f, data)
		if r.err == nil {
			r.chunks = s.Chunker.Split(r.doc)
		}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.doc, r.chunks, r.err
	case <-t.C:
		return ingest.Document{}, nil, fmt.Errorf("%w (%s, --parse-timeout); abandoned", ErrParseTimeout, timeout)
	case <-ctx.Done():
		return ingest.Document{}, nil, fault.Server(ctx.Err(), 0)
	}
}

// ParseWorker is the parse stage (documents.raw → documents.parsed, or
// the priority topic its ragpipe.priority header names).
func ParseWorker(s *Parse) Worker {
	return Worker{
		Name: "parse", Group: ParseGroup, BatchSize: ParseBatchSize,
		Topics: []string{event.TopicRaw}, Handler: s.Handle,
		DeadLetter: DeadLetter(nil), Lineage: event.Lineage,
	}
}

// parseName is the name a raw document is parsed under (its extension
// picks the parser): its source path, or its document id without one.
func parseName(m *ragpipev1.DocumentRaw) string {
	if src := m.GetSource(); src != "" && !strings.HasSuffix(src, "/") {
		return src
	}
	return m.GetDocId()
}
