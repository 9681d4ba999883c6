package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/stage"
)

// workerFlags are the consumer-engine flags of embed and index.
type workerFlags struct {
	group          string
	ordering       string
	concurrency    int
	batchSize      int
	batchWait      time.Duration
	batchBytes     int
	maxInFlight    int64
	maxAttempts    int
	drainTimeout   time.Duration
	instanceID     string
	sessionTimeout time.Duration
	exactlyOnce    bool
	txnID          string
	minConcurrency int
	breaker        int
}

func (w *workerFlags) register(cmd *cobra.Command, defaultGroup string, defaultBatch int) {
	f := cmd.Flags()
	f.StringVar(&w.group, "group", defaultGroup, "consumer group; run more processes with the same group to scale out")
	f.StringVar(&w.ordering, "ordering", "key", "processing order: key (per document, parallel across documents), partition, unordered")
	f.IntVar(&w.concurrency, "concurrency", 8, "most batches in flight at once (not bounded by the partition count); adapts between --min-concurrency and this")
	f.IntVar(&w.minConcurrency, "min-concurrency", 1, "fewest batches in flight when the server pushes back (set equal to --concurrency to fix it)")
	f.IntVar(&w.breaker, "breaker-threshold", 5, "batches failing in a row with server errors before the circuit breaker opens and intake pauses")
	f.IntVar(&w.batchSize, "batch-size", defaultBatch, "max records per batch")
	f.DurationVar(&w.batchWait, "batch-wait", 5*time.Millisecond, "max wait for a batch to fill")
	f.IntVar(&w.batchBytes, "batch-bytes", 4<<20, "max bytes per batch")
	f.Int64Var(&w.maxInFlight, "max-in-flight-bytes", 64<<20, "bound on buffered and in-flight record bytes; fetching pauses above it")
	f.IntVar(&w.maxAttempts, "max-attempts", 3, "attempts for a record the server rejects before it goes to the DLQ")
	f.DurationVar(&w.drainTimeout, "drain-timeout", 10*time.Second, "on shutdown or revoke, how long in-flight work may finish")
	f.StringVar(&w.instanceID, "instance-id", envOr("RAGPIPE_INSTANCE_ID", ""), "static group membership id, e.g. the pod name (env RAGPIPE_INSTANCE_ID)")
	f.DurationVar(&w.sessionTimeout, "session-timeout", 45*time.Second, "group session timeout")
	f.BoolVar(&w.exactlyOnce, "exactly-once", false, "commit outputs and input offsets in Kafka transactions (read_committed consumers see each output once)")
	f.StringVar(&w.txnID, "transactional-id", "", "transactional id for --exactly-once, stable across restarts and unique per worker (default GROUP-INSTANCE_ID, or GROUP-HOSTNAME)")
}

// transactionalID is the flag, or a stable default: a restarted worker
// with the same id aborts its predecessor's open transaction at once.
func (w *workerFlags) transactionalID() string {
	if w.txnID != "" || !w.exactlyOnce {
		return w.txnID
	}
	if w.instanceID != "" {
		return w.group + "-" + w.instanceID
	}
	host, err := os.Hostname()
	if err != nil {
		host = "worker"
	}
	return w.group + "-" + host
}

// run checks the cluster, then runs the engine until ctx ends.
func (w *workerFlags) run(ctx context.Context, g *globals, stageName string, topics []string, h engine.Handler, failures *stage.Failures) error {
	kc := g.kafka()
	if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
		return err
	}
	e, err := w.engine(g, stageName, topics, h, failures)
	if err != nil {
		return err
	}
	if err := e.Run(ctx); err != nil {
		return fmt.Errorf("%s: %w", stageName, err)
	}
	slog.Info("stopped cleanly", "stage", stageName)
	return nil
}

func (w *workerFlags) engine(g *globals, stageName string, topics []string, h engine.Handler, failures *stage.Failures) (*engine.Engine, error) {
	ord, err := engine.ParseOrdering(w.ordering)
	if err != nil {
		return nil, err
	}
	opts, err := g.kafka().Opts()
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Config{
		Stage: stageName, Group: w.group, Topics: topics, Handler: h, DeadLetter: stage.DeadLetter(failures),
		Ordering: ord, MaxInFlightBatches: w.concurrency, BatchMaxRecords: w.batchSize,
		BatchWait: w.batchWait, BatchMaxBytes: w.batchBytes, MaxInFlightBytes: w.maxInFlight,
		MaxAttempts: w.maxAttempts, DrainTimeout: w.drainTimeout, InstanceID: w.instanceID,
		SessionTimeout: w.sessionTimeout, ClientOpts: opts, Logger: slog.Default(),
		ExactlyOnce: w.exactlyOnce, TransactionalID: w.transactionalID(),
		MinInFlightBatches: w.minConcurrency, BreakerThreshold: w.breaker,
	}, event.Lineage)
}
