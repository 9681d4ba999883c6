package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/ragpipe/ragpipe/bench/baselines"
	"github.com/ragpipe/ragpipe/event"
)

// runBaseline is `harness baseline -kind KIND ...`: one baseline consumer
// as its own process, until SIGTERM.
func runBaseline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	kind := fs.String("kind", kindNaive, "naive, partition-sequential or pipe")
	brokers := fs.String("brokers", "127.0.0.1:9092", "seed brokers, comma-separated")
	group := fs.String("group", "bench-baseline", "consumer group")
	gpu := fs.String("gpu", "", "embeddings endpoint base URL")
	out := fs.String("out", event.TopicEmbedded, "output topic")
	batch := fs.Int("batch", batchSize, "records per embedding request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := baselines.Config{Brokers: splitComma(*brokers), Group: *group, Input: event.TopicParsed, Output: *out,
		GPU: *gpu, Batch: *batch, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	switch *kind {
	case kindNaive:
		return baselines.Naive(ctx, cfg)
	case kindPartSeq:
		return baselines.PartitionSequential(ctx, cfg)
	case kindPipe:
		return baselines.Pipe(ctx, cfg)
	}
	return fmt.Errorf("unknown baseline %q", *kind)
}
