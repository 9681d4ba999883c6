package baselines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// Config is what every baseline needs.
type Config struct {
	Brokers []string
	Group   string
	Input   string // topic to consume
	Output  string // topic to produce to
	GPU     string // embeddings endpoint base URL (not used by Pipe)
	Batch   int    // records per embedding request (PartitionSequential)
	Logger  *slog.Logger
}

func (c Config) client(extra ...kgo.Opt) (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Input), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ProducerLinger(2 * time.Millisecond)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// embedded turns an input record and its vector into the output record.
func embedded(out string, in *kgo.Record, vec []float32) (*kgo.Record, error) {
	m, err := event.DecodeChunkParsed(in)
	if err != nil {
		return nil, err
	}
	e := &ragpipev1.ChunkEmbedded{TenantId: m.GetTenantId(), DocId: m.GetDocId(), DocVersion: m.GetDocVersion(),
		ChunkIndex: m.GetChunkIndex(), ChunkCount: m.GetChunkCount(), Text: m.GetText(),
		ContentHash: m.GetContentHash(), Source: m.GetSource(), Vector: vec, Model: "gpusim",
		EmbeddedAt: timestamppb.Now()}
	r, err := event.NewRecord(out, in.Key, e)
	if err != nil {
		return nil, err
	}
	r.Partition = in.Partition
	return r, nil
}

func texts(recs []*kgo.Record) ([]string, error) {
	out := make([]string, len(recs))
	for i, r := range recs {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			return nil, err
		}
		out[i] = m.GetText()
	}
	return out, nil
}

func done(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) || err == nil) {
		return nil
	}
	return err
}

// Naive consumes one record at a time: a synchronous embedding request, a
// synchronous produce, a synchronous commit.
func Naive(ctx context.Context, c Config) error {
	cl, err := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	gpu := newGPUClient(c.GPU, 1)
	for ctx.Err() == nil {
		f := cl.PollRecords(ctx, 1)
		if err := f.Err0(); err != nil {
			return done(ctx, err)
		}
		for _, r := range f.Records() {
			if err := embedBatch(ctx, cl, gpu, c.Output, []*kgo.Record{r}); err != nil {
				return done(ctx, err)
			}
			if err := cl.CommitRecords(ctx, r); err != nil {
				return done(ctx, err)
			}
		}
	}
	return nil
}

// PartitionSequential polls, then runs each partition's records of the
// poll as consecutive batches, one batch per partition in flight, the
// partitions concurrently; it commits after every partition is done.
func PartitionSequential(ctx context.Context, c Config) error {
	cl, err := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.BlockRebalanceOnPoll())
	if err != nil {
		return err
	}
	defer cl.Close()
	gpu := newGPUClient(c.GPU, 64)
	batch := max(1, c.Batch)
	for ctx.Err() == nil {
		f := cl.PollRecords(ctx, 4096)
		if err := f.Err0(); err != nil {
			cl.AllowRebalance()
			return done(ctx, err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		f.EachPartition(func(p kgo.FetchTopicPartition) {
			recs := p.Records
			wg.Add(1)
			go func() {
				defer wg.Done()
				for len(recs) > 0 {
					n := min(batch, len(recs))
					if err := embedBatch(ctx, cl, gpu, c.Output, recs[:n]); err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
						return
					}
					recs = recs[n:]
				}
			}()
		})
		wg.Wait()
		if first != nil {
			cl.AllowRebalance()
			return done(ctx, first)
		}
		err := cl.CommitUncommittedOffsets(ctx)
		cl.AllowRebalance()
		if err != nil {
			return done(ctx, err)
		}
	}
	return nil
}

func embedBatch(ctx context.Context, cl *kgo.Client, gpu *gpuClient, topic string, recs []*kgo.Record) error {
	t, err := texts(recs)
	if err != nil {
		return err
	}
	vecs, err := gpu.embedRetry(ctx, t)
	if err != nil {
		return err
	}
	outs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		if outs[i], err = embedded(topic, r, vecs[i]); err != nil {
			return err
		}
	}
	return cl.ProduceSync(ctx, outs...).FirstErr()
}

// Pipe copies every record of the input to the output unchanged (same
// partition), committing after each poll's records are acknowledged.
func Pipe(ctx context.Context, c Config) error {
	cl, err := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(1_000_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		f := cl.PollRecords(ctx, 10_000)
		if err := f.Err0(); err != nil {
			return done(ctx, err)
		}
		recs := f.Records()
		outs := make([]*kgo.Record, len(recs))
		for i, r := range recs {
			outs[i] = &kgo.Record{Topic: c.Output, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers}
		}
		if err := cl.ProduceSync(ctx, outs...).FirstErr(); err != nil {
			return done(ctx, err)
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			return done(ctx, err)
		}
	}
	return nil
}
