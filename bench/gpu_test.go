package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/engine"
)

// gpu models an embedding server: a batch takes base + perItem·n, and at
// most slots batches run at once.
type gpu struct {
	base, perItem time.Duration
	slots         chan struct{}
}

func newGPU(base, perItem time.Duration, slots int) *gpu {
	return &gpu{base: base, perItem: perItem, slots: make(chan struct{}, slots)}
}

// handler returns an engine handler that "embeds" on the model GPU and
// emits one output per input to out (or none when out is empty).
func (g *gpu) handler(out string, done *atomic.Int64, onRecord func(*kgo.Record)) engine.Handler {
	return func(ctx context.Context, batch []*kgo.Record) ([]engine.Result, error) {
		g.slots <- struct{}{}
		time.Sleep(g.base + time.Duration(len(batch))*g.perItem)
		<-g.slots
		res := make([]engine.Result, len(batch))
		for i, r := range batch {
			if out != "" {
				res[i].Outputs = []*kgo.Record{{Topic: out, Value: r.Value}}
			}
			if onRecord != nil {
				onRecord(r)
			}
		}
		done.Add(int64(len(batch)))
		return res, nil
	}
}

// quiet is the benchmarks' logger: silent, or warnings and errors on
// stderr with RAGPIPE_BENCH_VERBOSE set.
func quiet() *slog.Logger {
	if os.Getenv("RAGPIPE_BENCH_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type cluster struct {
	addrs []string
	cl    *kgo.Client
}

func newCluster(b *testing.B, partitions int32, topics ...string) *cluster {
	b.Helper()
	br, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	return connect(b, br.Addrs(), partitions, topics...)
}

func connect(b *testing.B, addrs []string, partitions int32, topics ...string) *cluster {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopics(context.Background(), partitions, 1, nil, topics...); err != nil {
		b.Fatal(err)
	}
	return &cluster{addrs: addrs, cl: cl}
}

// produce writes docs documents of chunks records each, value size bytes,
// document by document.
func (c *cluster) produce(b *testing.B, topic string, docs, chunks, size int) {
	b.Helper()
	pad := make([]byte, size)
	var errs atomic.Int64
	for d := range docs {
		key := []byte("tenant/doc-" + strconv.Itoa(d))
		for i := range chunks {
			v := append([]byte(fmt.Sprintf("%d:%d:", d, i)), pad...)
			c.cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: key, Value: v[:size]}, func(_ *kgo.Record, err error) {
				if err != nil {
					errs.Add(1)
				}
			})
		}
	}
	if err := c.cl.Flush(context.Background()); err != nil || errs.Load() > 0 {
		b.Fatalf("producing: %v (%d errors)", err, errs.Load())
	}
}

// runUntil runs an engine until n records are done (outputs acknowledged
// or dead-lettered), returning the elapsed time. done is the handler's own
// count, which may include records processed twice.
func runUntil(b *testing.B, cfg engine.Config, done *atomic.Int64, n int64) (time.Duration, *engine.Engine) {
	b.Helper()
	cfg.Logger = quiet()
	e, err := engine.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- e.Run(ctx) }()
	for e.Stats().Done < n {
		select {
		case err := <-errc:
			b.Fatalf("engine stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	took := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return took, e
}
