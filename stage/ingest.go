package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/catalog"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	"github.com/ragpipe/ragpipe/ingest"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Ingest parses files into ChunkParsed records on documents.parsed.
type Ingest struct {
	Client  *kgo.Client
	Tenant  string
	Loader  ingest.Loader
	Chunker ingest.Chunker
	// Priority picks the topic of the chunks (event.PriorityTopic; the
	// zero value is normal: documents.parsed).
	Priority event.Priority
	// Version gives a document's doc_version from its file and its
	// document hash (DocumentHash of its bytes, "" when they could not be
	// read); the default is the file's modification time in Unix
	// milliseconds, which grows with each edit and stays the same when an
	// unchanged file is ingested again (so the upserts of a re-ingest
	// overwrite instead of adding a version).
	Version func(f ingest.File, info os.FileInfo, hash string) int64
	// Catalog, when set, holds the document hashes of the tenant's
	// searchable documents (documents.catalog): a file whose hash is the
	// one cataloged for its doc_id is skipped, nothing is produced for it
	// and it counts as unchanged. Nil publishes every file (--force, or no
	// catalog to read).
	Catalog *catalog.Catalog
	// DocID, when set, gives a walked file its doc_id (see Source.DocID);
	// the default is ingest.File's: the path relative to the walked root.
	// An error fails the file.
	DocID func(f ingest.File) (string, error)
	// Stderr receives one line per file that failed (default os.Stderr).
	Stderr io.Writer
	// Progress, when set, is called after each file.
	Progress func(p IngestSummary)
	Logger   *slog.Logger
	// RunID is written to every record as the ragpipe.ingest.id header
	// (default: a new random id per Run). It makes each run a delivery of
	// its own, so a fresh ingest of a file whose version failed is
	// processed again (see event.Delivery).
	RunID string
}

// IngestSummary counts what Run did.
type IngestSummary struct {
	Files     int // files seen
	Documents int // files turned into chunks
	Chunks    int // ChunkParsed records produced
	Unchanged int // files skipped: their hash is the cataloged one
	Failed    int // files that failed (a DocumentFailed each)
}

// ErrSomePathsFailed is returned when a path given to Run could not be
// walked; the other paths were still ingested.
var ErrSomePathsFailed = errors.New("some paths could not be ingested")

// Count returns the number of files under roots, for a progress bar.
func Count(ctx context.Context, roots []string) int {
	n := 0
	for _, root := range roots {
		_ = ingest.Walk(ctx, root, func(ingest.File) error { n++; return nil })
	}
	return n
}

// Run ingests every file under roots and waits until every record is
// acknowledged. Files that fail are reported and skipped.
func (s *Ingest) Run(ctx context.Context, roots []string) (IngestSummary, error) {
	if s.Stderr == nil {
		s.Stderr = os.Stderr
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.RunID == "" {
		s.RunID = event.NewID()
	}
	if s.Version == nil {
		s.Version = func(_ ingest.File, info os.FileInfo, _ string) int64 { return info.ModTime().UnixMilli() }
	}
	if err := s.Loader.Validate(); err != nil {
		return IngestSummary{}, err
	}
	if err := s.Chunker.Validate(); err != nil {
		return IngestSummary{}, err
	}
	var (
		sum  IngestSummary
		acks acks
	)
	promise := acks.promise
	walkFailed, err := walkRoots(ctx, roots, s.Stderr, "ingest", func(f ingest.File) error {
		sum.Files++
		var (
			n         int
			unchanged bool
			err       error
		)
		if s.DocID != nil {
			f.DocID, err = s.DocID(f)
		}
		if err == nil {
			n, unchanged, err = s.file(ctx, f, promise)
		}
		switch {
		case unchanged:
			sum.Unchanged++
		case err != nil:
			sum.Failed++
			msg := err.Error()
			if !strings.Contains(msg, f.DocID) {
				msg = f.DocID + ": " + msg
			}
			fmt.Fprintf(s.Stderr, "ragpipe %s (document failed)\n", msg)
		default:
			sum.Documents++
			sum.Chunks += n
		}
		if s.Progress != nil {
			s.Progress(sum)
		}
		return ctx.Err()
	})
	if err != nil {
		return sum, err
	}
	if err := acks.wait(ctx, s.Client, "ingest"); err != nil {
		return sum, err
	}
	if walkFailed {
		return sum, ErrSomePathsFailed
	}
	return sum, nil
}

// file produces the chunks of one file, or a DocumentFailed, or nothing
// when the file is unchanged (its hash is the cataloged one).
func (s *Ingest) file(ctx context.Context, f ingest.File, promise func(*kgo.Record, error)) (n int, unchanged bool, err error) {
	info, statErr := os.Stat(f.Path)
	var (
		version int64
		hash    string
		data    []byte
		readErr error
	)
	if statErr == nil {
		// The bytes are read once: the hash is that of what is parsed. An
		// unreadable file keeps no hash; its error is reported below.
		if data, readErr = s.Loader.Read(f); readErr == nil {
			hash = documentHash(data)
		}
		version = s.Version(f, info, hash)
	}
	if cataloged, ok := s.Catalog.Hash(f.DocID); ok && hash != "" && cataloged == hash {
		return 0, true, nil
	}
	fail := func(err error) error {
		ref := docRef{tenant: s.Tenant, doc: f.DocID, version: version, source: f.Path}
		if r := failed(ref, "parse", fault.ClassRecord.String(), err.Error(), 1, time.Now()); r != nil {
			s.Client.Produce(ctx, r, promise)
		}
		return err
	}
	if statErr != nil {
		return 0, false, fail(statErr)
	}
	if readErr != nil {
		return 0, false, fail(readErr)
	}
	doc, err := s.Loader.LoadBytes(f, data)
	if err != nil {
		return 0, false, fail(err)
	}
	chunks := s.Chunker.Split(doc)
	if len(chunks) == 0 {
		return 0, false, fail(errors.New("no text to index"))
	}
	recs, err := chunkRecords(event.PriorityTopic(s.Priority), s.Tenant, f, version, hash, doc, chunks, timestamppb.Now())
	if err != nil {
		return 0, false, fail(err)
	}
	for _, rec := range recs {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: event.HeaderIngestID, Value: []byte(s.RunID)})
		s.Client.Produce(ctx, rec, promise)
	}
	return len(chunks), false, nil
}

// chunkRecords returns the ChunkParsed records of a document's chunks on
// topic, in order. Each carries the document's metadata and, for paginated
// documents, the chunk's pages (ingest.ChunkMetadata), and the document
// hash (empty when not known).
func chunkRecords(topic, tenant string, f ingest.File, version int64, docHash string, doc ingest.Document, chunks []ingest.Chunk, now *timestamppb.Timestamp) ([]*kgo.Record, error) {
	key := event.Key(tenant, f.DocID)
	recs := make([]*kgo.Record, 0, len(chunks))
	for _, c := range chunks {
		rec, err := event.NewRecord(topic, key, &ragpipev1.ChunkParsed{
			TenantId: tenant, DocId: f.DocID, DocVersion: version,
			ChunkIndex: int32(c.Index), ChunkCount: int32(len(chunks)), Text: c.Text,
			ContentHash: ingest.ContentHash(c.Text), Source: f.Path, Title: doc.Title,
			MediaType: doc.MediaType, Heading: c.Heading, TokenCount: int32(c.Tokens),
			Metadata: ingest.ChunkMetadata(doc, c), ParsedAt: now, DocumentHash: docHash,
		})
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
