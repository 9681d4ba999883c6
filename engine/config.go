package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Ordering says which records must be processed and emitted in offset order.
type Ordering string

const (
	// OrderKey keeps records that share a key in offset order; different
	// keys run concurrently, also within one partition. The default.
	OrderKey Ordering = "key"
	// OrderPartition keeps a whole partition in offset order.
	OrderPartition Ordering = "partition"
	// OrderUnordered lets every record run as soon as there is capacity.
	OrderUnordered Ordering = "unordered"
)

// ParseOrdering parses a --ordering flag value.
func ParseOrdering(s string) (Ordering, error) {
	switch o := Ordering(s); o {
	case OrderKey, OrderPartition, OrderUnordered:
		return o, nil
	case "":
		return OrderKey, nil
	}
	return "", fmt.Errorf("engine: unknown ordering %q (want key, partition or unordered)", s)
}

// Defaults of Config, defined once: the CLI's flags take theirs from here.
const (
	DefaultMaxInFlightBatches = 8
	DefaultBreakerThreshold   = 5
	DefaultBatchMaxRecords    = 64
	DefaultBatchMaxBytes      = 4 << 20
	DefaultBatchWait          = 5 * time.Millisecond
	DefaultMaxInFlightBytes   = 64 << 20
	DefaultMaxAttempts        = 3
	DefaultMaxServerFailures  = 5
	DefaultRetryBackoff       = 200 * time.Millisecond
	DefaultMaxRetryBackoff    = 30 * time.Second
	DefaultMaxServerBackoff   = 3 * time.Second
	DefaultDrainTimeout       = 10 * time.Second
	DefaultCommitInterval     = 100 * time.Millisecond
	DefaultCommitTimeout      = 10 * time.Second
	DefaultSessionTimeout     = 45 * time.Second
	DefaultRebalanceTimeout   = 60 * time.Second
	DefaultTransactionTimeout = 60 * time.Second
	DefaultTxnMaxRecords      = 1000
)

// DefaultMinInFlightBatches is the adaptive bound's default floor for a
// given MaxInFlightBatches: a quarter of it, at least 2 (at most the
// maximum), so that one hung request never leaves a worker with nothing in
// flight.
func DefaultMinInFlightBatches(maxInFlight int) int {
	return min(maxInFlight, max(2, maxInFlight/4))
}

// Config configures an Engine. The zero value of every field but Group,
// Topics and Handler takes the default named on the field.
type Config struct {
	// Stage names the stage in logs and dead-letter headers (e.g. "embed").
	Stage string
	// Group is the consumer group. Required.
	Group string
	// Topics are the input topics. Required.
	Topics []string
	// Handler processes batches. Required.
	Handler Handler
	// DeadLetter builds the records to produce for a record that failed
	// too often (typically the original on the DLQ topic and a
	// DocumentFailed). Nil drops such a record after logging it.
	DeadLetter DeadLetterFunc
	// Lineage returns headers to add to every output of an input record
	// (package event's lineage headers); nil adds none.
	Lineage func(in *kgo.Record) []kgo.RecordHeader
	// Probe, when set, sends the server a request known to be good and
	// reports whether it answered. The engine calls it (at most one at a
	// time, and not again while a probe that failed is recent) to tell a
	// record that the server cannot take from an outage when no other
	// request succeeded meanwhile. Nil: only other requests are evidence.
	Probe func(ctx context.Context) error

	// TopicWeights makes each input topic a priority class with a weight
	// in [1, MaxTopicWeight]; an input topic not listed weighs 1. With a
	// backlog in every class, dispatch gives class i weight_i/Σweight of
	// the records (weighted fair queueing counted in records), and a class
	// with a ready record is served again within about Σweight/weight_i
	// records (plus one lane's run, at most BatchMaxRecords), so no class
	// starves; within a class, oldest head record
	// first. Nil or empty (the default): one class, oldest head first
	// across all topics. With weights, each topic's buffered bytes are
	// also held to MaxInFlightBytes/len(Topics), so that one class's
	// backlog leaves room for the others.
	TopicWeights map[string]int
	// Ordering of processing and emission (default OrderKey).
	Ordering Ordering
	// MaxInFlightBatches bounds the batches being processed at once
	// (default 8). This, not the partition count, bounds concurrency.
	// Within [MinInFlightBatches, MaxInFlightBatches] the engine adapts the
	// bound to the server: it grows while batch latency holds and shrinks
	// when latency climbs or the server pushes back (429, 503,
	// Retry-After). Other server errors do not shrink it.
	MaxInFlightBatches int
	// MinInFlightBatches is the adaptive bound's floor (default
	// DefaultMinInFlightBatches(MaxInFlightBatches)). Set it to
	// MaxInFlightBatches for a fixed concurrency.
	MinInFlightBatches int
	// BreakerThreshold is how many batches in a row may fail with server
	// errors before the circuit breaker opens (default 5); it also opens
	// when at least half of the last 20 batches failed so.
	BreakerThreshold int
	// BatchMaxRecords bounds the records of one batch (default 64).
	BatchMaxRecords int
	// BatchMaxBytes bounds the key+value bytes of one batch (default 4 MiB).
	// A single record larger than this still forms a batch on its own.
	BatchMaxBytes int
	// BatchWait is how long a batch that is not full waits for more ready
	// records before it is handed over (default 5ms; negative: never wait).
	BatchWait time.Duration
	// MaxInFlightBytes bounds the bytes of records taken from Kafka and not
	// yet committable (default 64 MiB): a done record counts until the
	// watermark passes it. Polling stops at the bound, and a partition
	// whose share is used up is paused.
	MaxInFlightBytes int64
	// MaxAttempts is how many record-class failures a record may have
	// before it is dead-lettered (default 3).
	MaxAttempts int
	// MaxServerFailures is how many server-class failures a record may
	// have when sent alone while the server answers other requests (a
	// toxic input) before it is dead-lettered (default 5). Server errors
	// during an outage never count.
	MaxServerFailures int
	// RetryBackoff is the first delay before a retry (default 200ms); it
	// doubles per attempt up to MaxRetryBackoff (default 30s), with jitter.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// MaxServerBackoff caps the delay before a batch that failed with a
	// server error is retried, and the time between probes of an open
	// breaker (default 3s), so that work resumes within seconds of a
	// server coming back.
	MaxServerBackoff time.Duration
	// DrainTimeout bounds how long shutdown and revocation wait for
	// in-flight work (default 10s).
	DrainTimeout time.Duration
	// CommitInterval is how often done offsets are committed (default
	// 100ms): what a crash makes the group redo is bounded by the records
	// in flight plus what completes in one interval.
	CommitInterval time.Duration
	// CommitTimeout bounds a synchronous commit, on revoke and shutdown
	// (default 10s).
	CommitTimeout time.Duration
	// InstanceID enables static group membership (e.g. a pod name): a
	// restarted member takes its partitions straight back.
	InstanceID string
	// SessionTimeout of the group member (default 45s; franz-go heartbeats
	// in the background, so a slow handler never costs membership).
	SessionTimeout time.Duration
	// GroupProtocol is "classic" (the default, also ""): client-side
	// cooperative-sticky assignment; or "consumer": KIP-848 server-side
	// assignment (kgo.ServerSideBalancer, Kafka 4.0+; franz-go falls back
	// to classic on older brokers), where a member joining or leaving does
	// not stop the others.
	GroupProtocol string
	// RebalanceTimeout bounds a rebalance, including revocation draining
	// and its commit (default 60s). Must exceed DrainTimeout +
	// CommitTimeout.
	RebalanceTimeout time.Duration
	// ExactlyOnce runs consume-process-produce in Kafka transactions: the
	// outputs of the records taken by one poll and the input offsets are
	// committed atomically, so a read_committed consumer of the outputs sees
	// each record's outputs exactly once, also across crashes.
	ExactlyOnce bool
	// TransactionalID identifies the producer across restarts (required
	// with ExactlyOnce): a restarted worker with the same id aborts its
	// predecessor's open transaction at once. Give each worker its own.
	TransactionalID string
	// TransactionTimeout is the producer's transaction timeout (default
	// 60s). A transaction round that has not finished within half of the
	// smaller of it and RebalanceTimeout is aborted and retried after a
	// backoff, so an outage never lets the coordinator fence the worker.
	TransactionTimeout time.Duration
	// TxnMaxRecords bounds the records of one transaction (default 1000).
	TxnMaxRecords int
	// ClientOpts are the connection options (seed brokers, TLS, SASL).
	ClientOpts []kgo.Opt
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Hooks receive engine events, for metrics and health (see Hook).
	Hooks []Hook
}

func (c *Config) setDefaults() {
	if c.Ordering == "" {
		c.Ordering = OrderKey
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxInFlightBatches, DefaultMaxInFlightBatches)
	def(&c.MinInFlightBatches, DefaultMinInFlightBatches(c.MaxInFlightBatches))
	def(&c.BreakerThreshold, DefaultBreakerThreshold)
	def(&c.BatchMaxRecords, DefaultBatchMaxRecords)
	def(&c.BatchMaxBytes, DefaultBatchMaxBytes)
	def(&c.MaxAttempts, DefaultMaxAttempts)
	def(&c.MaxServerFailures, DefaultMaxServerFailures)
	def(&c.TxnMaxRecords, DefaultTxnMaxRecords)
	dur(&c.BatchWait, DefaultBatchWait)
	dur(&c.RetryBackoff, DefaultRetryBackoff)
	dur(&c.MaxRetryBackoff, DefaultMaxRetryBackoff)
	dur(&c.MaxServerBackoff, DefaultMaxServerBackoff)
	dur(&c.DrainTimeout, DefaultDrainTimeout)
	dur(&c.CommitInterval, DefaultCommitInterval)
	dur(&c.CommitTimeout, DefaultCommitTimeout)
	dur(&c.SessionTimeout, DefaultSessionTimeout)
	dur(&c.RebalanceTimeout, DefaultRebalanceTimeout)
	dur(&c.TransactionTimeout, DefaultTransactionTimeout)
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Stage == "" {
		c.Stage = c.Group
	}
}

// txnRoundTimeout is the deadline of one exactly-once round.
func (c *Config) txnRoundTimeout() time.Duration {
	return min(c.TransactionTimeout, c.RebalanceTimeout) / 2
}

// Validate reports every invalid setting, joined into one error.
func (c *Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("group is required"))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("at least one input topic is required"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("handler is required"))
	}
	errs = append(errs, validateWeights(c.TopicWeights, c.Topics)...)
	if _, err := ParseOrdering(string(c.Ordering)); err != nil {
		errs = append(errs, err)
	}
	if c.GroupProtocol != "" && c.GroupProtocol != "classic" && c.GroupProtocol != "consumer" {
		errs = append(errs, fmt.Errorf(`group protocol must be "classic" or "consumer", got %q`, c.GroupProtocol))
	}
	if c.MaxInFlightBatches < 1 {
		errs = append(errs, fmt.Errorf("max in-flight batches must be at least 1, got %d", c.MaxInFlightBatches))
	}
	if c.MinInFlightBatches < 1 || c.MinInFlightBatches > c.MaxInFlightBatches {
		errs = append(errs, fmt.Errorf("min in-flight batches must be in [1, %d], got %d", c.MaxInFlightBatches, c.MinInFlightBatches))
	}
	if c.BreakerThreshold < 1 {
		errs = append(errs, fmt.Errorf("breaker threshold must be at least 1, got %d", c.BreakerThreshold))
	}
	if c.BatchMaxRecords < 1 {
		errs = append(errs, fmt.Errorf("batch size must be at least 1, got %d", c.BatchMaxRecords))
	}
	if c.BatchMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("batch bytes must be positive, got %d", c.BatchMaxBytes))
	}
	if c.MaxInFlightBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max in-flight bytes must be at least 1 KiB, got %d", c.MaxInFlightBytes))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts must be at least 1, got %d", c.MaxAttempts))
	}
	if c.MaxServerFailures < 1 {
		errs = append(errs, fmt.Errorf("max server failures must be at least 1, got %d", c.MaxServerFailures))
	}
	if c.ExactlyOnce && c.TransactionalID == "" {
		errs = append(errs, errors.New("exactly-once mode needs a transactional id"))
	}
	if c.RebalanceTimeout <= c.DrainTimeout+c.CommitTimeout {
		errs = append(errs, fmt.Errorf("rebalance timeout (%s) must exceed the drain timeout (%s) plus the commit timeout (%s): a revoke drains and commits within it",
			c.RebalanceTimeout, c.DrainTimeout, c.CommitTimeout))
	}
	if c.ExactlyOnce && c.txnRoundTimeout() <= c.DrainTimeout {
		errs = append(errs, fmt.Errorf("half of the smaller of the transaction timeout (%s) and the rebalance timeout (%s) must exceed the drain timeout (%s)",
			c.TransactionTimeout, c.RebalanceTimeout, c.DrainTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
