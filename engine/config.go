package engine

import (
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
	// MaxAttempts times (typically the original on the DLQ topic and a
	// DocumentFailed). Nil drops such a record after logging it.
	DeadLetter DeadLetterFunc

	// Ordering of processing and emission (default OrderKey).
	Ordering Ordering
	// MaxInFlightBatches bounds the batches being processed at once
	// (default 8). This, not the partition count, bounds concurrency.
	// Within [MinInFlightBatches, MaxInFlightBatches] the engine adapts the
	// bound to the server: it grows while batch latency holds and shrinks
	// when latency climbs or the server pushes back.
	MaxInFlightBatches int
	// MinInFlightBatches is the adaptive bound's floor (default 1). Set it
	// to MaxInFlightBatches for a fixed concurrency.
	MinInFlightBatches int
	// BreakerThreshold is how many batches in a row may fail with server
	// errors before the circuit breaker opens (default 5).
	BreakerThreshold int
	// BatchMaxRecords bounds the records of one batch (default 64).
	BatchMaxRecords int
	// BatchMaxBytes bounds the key+value bytes of one batch (default 4 MiB).
	// A single record larger than this still forms a batch on its own.
	BatchMaxBytes int
	// BatchWait is how long a batch that is not full waits for more ready
	// records before it is handed over (default 5ms; negative: never wait).
	BatchWait time.Duration
	// MaxInFlightBytes bounds the key+value bytes of records taken from
	// Kafka and not yet done (default 64 MiB). Polling stops at the bound,
	// and a partition whose share is used up is paused.
	MaxInFlightBytes int64
	// MaxAttempts is how many record-class failures a record may have
	// before it is dead-lettered (default 3).
	MaxAttempts int
	// RetryBackoff is the first delay before a retry (default 200ms); it
	// doubles per attempt up to MaxRetryBackoff (default 30s), with jitter.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// MaxServerBackoff caps the pause after server errors and the time
	// between probes of an open breaker (default 3s), so that work resumes
	// within seconds of a server coming back.
	MaxServerBackoff time.Duration
	// DrainTimeout bounds how long shutdown and revocation wait for
	// in-flight work (default 10s).
	DrainTimeout time.Duration
	// CommitInterval is how often done offsets are committed (default
	// 100ms): what a crash makes the group redo is bounded by the records
	// in flight plus what completes in one interval.
	CommitInterval time.Duration
	// InstanceID enables static group membership (e.g. a pod name): a
	// restarted member takes its partitions straight back.
	InstanceID string
	// SessionTimeout of the group member (default 45s; franz-go heartbeats
	// in the background, so a slow handler never costs membership).
	SessionTimeout time.Duration
	// RebalanceTimeout bounds a rebalance, including revocation draining
	// (default 60s). Must exceed DrainTimeout.
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
	// TxnMaxRecords bounds the records of one transaction (default 1000).
	TxnMaxRecords int
	// ClientOpts are the connection options (seed brokers, TLS, SASL).
	ClientOpts []kgo.Opt
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Observer receives engine events for metrics; may be nil.
	Observer Observer
}

func (c *Config) setDefaults() {
	if c.Ordering == "" {
		c.Ordering = OrderKey
	}
	if c.MaxInFlightBatches == 0 {
		c.MaxInFlightBatches = 8
	}
	if c.MinInFlightBatches == 0 {
		c.MinInFlightBatches = 1
	}
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = 5
	}
	if c.BatchMaxRecords == 0 {
		c.BatchMaxRecords = 64
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = 4 << 20
	}
	if c.BatchWait == 0 {
		c.BatchWait = 5 * time.Millisecond
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = 64 << 20
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.MaxRetryBackoff == 0 {
		c.MaxRetryBackoff = 30 * time.Second
	}
	if c.MaxServerBackoff == 0 {
		c.MaxServerBackoff = 3 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.TxnMaxRecords == 0 {
		c.TxnMaxRecords = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Stage == "" {
		c.Stage = c.Group
	}
}

// Validate reports the first invalid setting.
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
	if _, err := ParseOrdering(string(c.Ordering)); err != nil {
		errs = append(errs, err)
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
	if c.ExactlyOnce && c.TransactionalID == "" {
		errs = append(errs, errors.New("exactly-once mode needs a transactional id"))
	}
	if c.RebalanceTimeout <= c.DrainTimeout {
		errs = append(errs, fmt.Errorf("rebalance timeout (%s) must exceed the drain timeout (%s)", c.RebalanceTimeout, c.DrainTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
