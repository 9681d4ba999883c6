package stage

import (
	"context"
	"fmt"
	"log/slog"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Embed turns ChunkParsed records into ChunkEmbedded records.
type Embed struct {
	Embedder embed.Embedder
	// Failures, when set, makes the stage skip the chunks of versions that
	// failed (share it with DeadLetter).
	Failures *Failures
	// Logger receives a line for each chunk skipped as part of a failed
	// version (default slog.Default()).
	Logger *slog.Logger
}

// Handle is the engine handler: one embedding request per batch.
func (s *Embed) Handle(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
	res := make([]engine.Result, len(batch))
	msgs := make([]*ragpipev1.ChunkParsed, 0, len(batch))
	texts := make([]string, 0, len(batch))
	pos := make([]int, 0, len(batch))
	for i, r := range batch {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			res[i].Err = err
			continue
		}
		if delivery := event.Delivery(r); s.Failures.Has(m.GetTenantId(), m.GetDocId(), m.GetDocVersion(), delivery) {
			// An earlier chunk of this version failed in the same delivery:
			// skip the rest (a replay or a fresh ingest is another delivery).
			s.logger().Info("skipping a chunk of a failed version",
				"tenant", m.GetTenantId(), "doc", m.GetDocId(), "version", m.GetDocVersion(),
				"chunk", m.GetChunkIndex(), "delivery", delivery,
				"topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
			continue
		}
		msgs = append(msgs, m)
		texts = append(texts, m.GetText())
		pos = append(pos, i)
	}
	if len(texts) == 0 {
		return res, nil
	}
	vecs, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		// Translate an input position into a batch position.
		if i := fault.IndexOf(err); fault.ClassOf(err) == fault.ClassRecord && i >= 0 && i < len(pos) {
			return nil, fault.RecordAt(pos[i], err)
		}
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, fault.Server(fmt.Errorf("embedder returned %d vectors for %d inputs", len(vecs), len(texts)), 0)
	}
	now := timestamppb.Now()
	for j, m := range msgs {
		i := pos[j]
		if bad := badVector(vecs[j]); bad != "" {
			res[i].Err = fault.Record(fmt.Errorf("embedding of chunk %d: %s", m.GetChunkIndex(), bad))
			continue
		}
		out := &ragpipev1.ChunkEmbedded{
			TenantId: m.GetTenantId(), DocId: m.GetDocId(), DocVersion: m.GetDocVersion(),
			ChunkIndex: m.GetChunkIndex(), ChunkCount: m.GetChunkCount(), Text: m.GetText(),
			ContentHash: m.GetContentHash(), Source: m.GetSource(), Title: m.GetTitle(),
			Heading: m.GetHeading(), Vector: vecs[j], Model: s.Embedder.Model(), EmbeddedAt: now,
			Metadata: m.GetMetadata(), ParsedAt: m.GetParsedAt(), DocumentHash: m.GetDocumentHash(),
		}
		rec, err := event.NewRecord(event.TopicEmbedded, batch[i].Key, out)
		if err != nil {
			res[i].Err = fault.Record(err)
			continue
		}
		rec.Headers = append(rec.Headers, event.DeliveryHeaders(batch[i])...)
		res[i].Outputs = []*kgo.Record{rec}
	}
	return res, nil
}

func (s *Embed) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func badVector(v []float32) string {
	if len(v) == 0 {
		return "empty vector"
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "vector holds NaN or Inf"
		}
	}
	return ""
}
