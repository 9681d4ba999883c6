package stage

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/blob"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Submit publishes files unparsed, one DocumentRaw per file on
// documents.raw, for the parse stage: content inline up to
// event.RawInlineMax bytes, larger content in Blobs with a reference.
// Document ids and versions follow the ingest stage's rules (the path
// relative to the walked root; the modification time in Unix ms).
type Submit struct {
	Client *kgo.Client
	Tenant string
	// Blobs holds contents over event.RawInlineMax; nil refuses them.
	Blobs blob.Store
	// MaxBytes is the largest file submitted (default ingest.DefaultMaxBytes).
	MaxBytes int64
	// Stderr receives one line per file that could not be submitted.
	Stderr io.Writer
	// Priority, unless empty or normal, is written as the
	// ragpipe.priority header: the parse stage puts the document's chunks
	// on its priority topic (event.PriorityTopic).
	Priority event.Priority
}

// SubmitSummary counts what Run did.
type SubmitSummary struct {
	Files, Submitted, Blobs, Failed int
	Bytes                           int64
}

// Run submits every file under roots and waits until every record is
// acknowledged. A file that cannot be read is reported and skipped; a
// root that cannot be walked makes Run return ErrSomePathsFailed after the
// others.
func (s *Submit) Run(ctx context.Context, roots []string) (SubmitSummary, error) {
	if s.Stderr == nil {
		s.Stderr = os.Stderr
	}
	maxBytes := s.MaxBytes
	if maxBytes <= 0 {
		maxBytes = ingest.DefaultMaxBytes
	}
	var (
		sum  SubmitSummary
		acks acks
	)
	promise := acks.promise
	walkFailed, err := walkRoots(ctx, roots, s.Stderr, "submit", func(f ingest.File) error {
		sum.Files++
		n, inBlob, err := s.file(ctx, f, maxBytes, promise)
		if err != nil {
			sum.Failed++
			fmt.Fprintf(s.Stderr, "ragpipe submit: %s: %v\n", f.DocID, err)
			return ctx.Err()
		}
		sum.Submitted++
		sum.Bytes += n
		if inBlob {
			sum.Blobs++
		}
		return ctx.Err()
	})
	if err != nil {
		return sum, err
	}
	if err := acks.wait(ctx, s.Client, "submit"); err != nil {
		return sum, err
	}
	if walkFailed || sum.Failed > 0 {
		return sum, ErrSomePathsFailed
	}
	return sum, nil
}

func (s *Submit) file(ctx context.Context, f ingest.File, maxBytes int64, promise func(*kgo.Record, error)) (int64, bool, error) {
	info, err := os.Stat(f.Path)
	if err != nil {
		return 0, false, err
	}
	if info.Size() > maxBytes {
		return 0, false, fmt.Errorf("%d bytes, over --max-file-size %d", info.Size(), maxBytes)
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return 0, false, err
	}
	mt, _ := ingest.MediaTypeOf(f.Path)
	if mt == "" {
		mt, _ = ingest.SniffMediaType(data)
	}
	m := &ragpipev1.DocumentRaw{
		TenantId: s.Tenant, DocId: f.DocID, DocVersion: info.ModTime().UnixMilli(),
		MediaType: mt, Source: f.Path, ContentHash: documentHash(data),
		ContentSize: int64(len(data)), SubmittedAt: timestamppb.New(time.Now()),
	}
	inBlob := len(data) > event.RawInlineMax
	if inBlob {
		if s.Blobs == nil {
			return 0, false, fmt.Errorf("%d bytes, over the %d inline on documents.raw, and no blob store (--blobs)", len(data), event.RawInlineMax)
		}
		ref, err := s.Blobs.Put(ctx, data)
		if err != nil {
			return 0, false, err
		}
		m.Body = &ragpipev1.DocumentRaw_ContentRef{ContentRef: ref}
	} else {
		m.Body = &ragpipev1.DocumentRaw_Content{Content: data}
	}
	rec, err := event.NewRecord(event.TopicRaw, event.Key(s.Tenant, f.DocID), m)
	if err != nil {
		return 0, false, err
	}
	if s.Priority != "" && s.Priority != event.PriorityNormal {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: event.HeaderPriority, Value: []byte(s.Priority)})
	}
	s.Client.Produce(ctx, rec, promise)
	return int64(len(data)), inBlob, nil
}
