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
	"github.com/ragpipe/ragpipe/stage"
)

// workerFlags are the consumer-engine flags of embed and index. Their
// defaults are the engine's (engine.Default*), defined there once.
type workerFlags struct {
	group             string
	ordering          string
	concurrency       int
	batchSize         int
	batchWait         time.Duration
	batchBytes        int
	maxInFlight       int64
	maxAttempts       int
	maxServerFailures int
	drainTimeout      time.Duration
	instanceID        string
	sessionTimeout    time.Duration
	groupProtocol     string
	exactlyOnce       bool
	txnID             string
	txnTimeout        time.Duration
	minConcurrency    int
	breaker           int
	metrics           metricsFlags
}

func (w *workerFlags) register(cmd *cobra.Command, defaultGroup string, defaultBatch int) {
	f := cmd.Flags()
	f.StringVar(&w.group, "group", defaultGroup, "consumer group; run more processes with the same group to scale out")
	f.StringVar(&w.ordering, "ordering", string(engine.OrderKey), "processing order: key (per document, parallel across documents), partition, unordered")
	f.IntVar(&w.concurrency, "concurrency", engine.DefaultMaxInFlightBatches, "most batches in flight at once (not bounded by the partition count); adapts between --min-concurrency and this")
	f.IntVar(&w.minConcurrency, "min-concurrency", 0, "fewest batches in flight when the server pushes back (0: a quarter of --concurrency, at least 2; set equal to --concurrency to fix it)")
	f.IntVar(&w.breaker, "breaker-threshold", engine.DefaultBreakerThreshold, "batches failing in a row with server errors before the circuit breaker opens and intake pauses (it also opens when half of the last 20 fail)")
	f.IntVar(&w.batchSize, "batch-size", defaultBatch, "max records per batch")
	f.DurationVar(&w.batchWait, "batch-wait", engine.DefaultBatchWait, "max wait for a batch to fill")
	f.IntVar(&w.batchBytes, "batch-bytes", engine.DefaultBatchMaxBytes, "max bytes per batch")
	f.Int64Var(&w.maxInFlight, "max-in-flight-bytes", engine.DefaultMaxInFlightBytes, "bound on bytes of records taken and not yet committable; fetching pauses above it (it also bounds what a crash redoes)")
	f.IntVar(&w.maxAttempts, "max-attempts", engine.DefaultMaxAttempts, "attempts for a record the server rejects before it goes to the DLQ")
	f.IntVar(&w.maxServerFailures, "max-server-failures", engine.DefaultMaxServerFailures, "server errors a record may cause when sent alone while the server answers others (a toxic input) before it goes to the DLQ; outages never count")
	f.DurationVar(&w.drainTimeout, "drain-timeout", engine.DefaultDrainTimeout, "on shutdown or revoke, how long in-flight work may finish")
	f.StringVar(&w.instanceID, "instance-id", envOr("RAGPIPE_INSTANCE_ID", ""), "static group membership id, e.g. the pod name (env RAGPIPE_INSTANCE_ID)")
	f.DurationVar(&w.sessionTimeout, "session-timeout", engine.DefaultSessionTimeout, "group session timeout")
	f.StringVar(&w.groupProtocol, "group-protocol", "classic", "group protocol: classic (client-side cooperative-sticky assignment) or consumer (KIP-848 server-side assignment, Kafka 4.0+)")
	f.BoolVar(&w.exactlyOnce, "exactly-once", false, "commit outputs and input offsets in Kafka transactions (read_committed consumers see each output once)")
	f.StringVar(&w.txnID, "transactional-id", "", "transactional id for --exactly-once, stable across restarts and unique per worker (default GROUP-INSTANCE_ID, or GROUP-HOSTNAME)")
	f.DurationVar(&w.txnTimeout, "transaction-timeout", engine.DefaultTransactionTimeout, "transaction timeout for --exactly-once; a round not done in half of it is aborted and retried")
	w.metrics.register(cmd)
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

// run serves the metrics endpoints (with --metrics-addr), checks the
// cluster, then runs the stage's engine until ctx ends. em, when given, is
// the stage's embedder, whose endpoints are reported too.
func (w *workerFlags) run(ctx context.Context, g *globals, st stage.Worker, em ...any) error {
	obs, err := w.metrics.start(ctx)
	if err != nil {
		return err
	}
	defer obs.stop()
	for _, x := range em {
		obs.pool(x)
	}
	kc := g.kafka()
	if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
		return err
	}
	e, err := w.engine(g, st, obs)
	if err != nil {
		return err
	}
	if err := e.Run(ctx); err != nil {
		return fmt.Errorf("%s: %w", st.Name, err)
	}
	slog.Info("stopped cleanly", "stage", st.Name)
	return nil
}

func (w *workerFlags) engine(g *globals, st stage.Worker, obs *observer) (*engine.Engine, error) {
	ord, err := engine.ParseOrdering(w.ordering)
	if err != nil {
		return nil, err
	}
	opts, err := g.kafka().Opts()
	if err != nil {
		return nil, err
	}
	cfg, bind := obs.stage(st.Name, st.Configure(engine.Config{
		Group: w.group, Ordering: ord, MaxInFlightBatches: w.concurrency, BatchMaxRecords: w.batchSize,
		BatchWait: w.batchWait, BatchMaxBytes: w.batchBytes, MaxInFlightBytes: w.maxInFlight,
		MaxAttempts: w.maxAttempts, MaxServerFailures: w.maxServerFailures, DrainTimeout: w.drainTimeout,
		InstanceID: w.instanceID, SessionTimeout: w.sessionTimeout, GroupProtocol: w.groupProtocol, ClientOpts: opts, Logger: slog.Default(),
		ExactlyOnce: w.exactlyOnce, TransactionalID: w.transactionalID(), TransactionTimeout: w.txnTimeout,
		MinInFlightBatches: w.minConcurrency, BreakerThreshold: w.breaker,
	}))
	e, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	bind(e)
	return e, nil
}

// topicMissing tells whether the cluster lacks topic. An unreachable
// cluster is broker.Check's clear error.
func topicMissing(ctx context.Context, g *globals, topic string) (bool, error) {
	cl, adm, err := g.admin(ctx)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("listing topics: %w", err)
	}
	return !td.Has(topic), nil
}
