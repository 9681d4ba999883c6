package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kslog"
)

// Engine consumes input topics in a consumer group and runs the handler on
// batches, keeping the configured order, committing only done prefixes.
type Engine struct {
	cfg Config
	log *slog.Logger
	cl  *kgo.Client
	// sess runs transactions in exactly-once mode; nil otherwise.
	sess *kgo.GroupTransactSession

	hooks hooks

	mu      sync.Mutex
	parts   map[tp]*partState
	ready   laneQueue
	shares  *classShares  // the memory bound's share of each priority class; nil without weights
	changed chan struct{} // closed and replaced whenever state changes

	seq             uint64 // last intake sequence number
	inflightBytes   int64
	inflightRecords int
	dispatched      int      // records handed to the handler or awaiting acks
	br              breaker  // persistent server errors open the circuit
	lim             *limiter // adaptive bound on batches in flight
	active          int      // batches handed to the handler and not settled
	closing         bool
	// aborting is set while an exactly-once round is being aborted: what
	// fails to be produced then is expected, and nothing new is produced.
	aborting bool
	fatal    error
	stopPoll context.CancelFunc
	// carry keeps the failure counts of records across an exactly-once
	// rewind, so that a toxic record is still dead-lettered in the end.
	carry map[tp]map[int64]failures

	// produceGate is held shared while outputs are handed to the producer
	// and exclusively while a transaction ends: no Produce runs during End.
	produceGate sync.RWMutex

	// lastAnswer is when a handler call last returned without a server
	// error (UnixNano): evidence that the server answers.
	lastAnswer atomic.Int64
	// probeMu serialises Config.Probe calls; lastProbeFail (UnixNano, under
	// probeMu) is when one last failed.
	probeMu       sync.Mutex
	lastProbeFail int64

	gather chan struct{} // one worker at a time gathers a batch
	done   atomic.Int64  // records done, for progress reporting

	// fetchMu serialises pause/resume calls to the client, each applying
	// the state current under mu, so that two changes racing to the client
	// cannot leave it in a stale state.
	fetchMu      sync.Mutex
	topicsPaused bool // whole topics paused by the breaker, as last applied
	// zombies are dropped partitions whose batches still run; a new
	// assignment of the partition waits for them, so a key never runs twice
	// at once.
	zombies map[tp][]*partState
	// shutdown is closed when Run's context ends: waits inside rebalance
	// callbacks stop early.
	shutdown chan struct{}
	// produceCtx is canceled at the shutdown deadline, so that a produce
	// blocked on a full buffer returns.
	produceCtx    context.Context
	cancelProduce context.CancelFunc
}

// New validates cfg and returns an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger.With("stage", cfg.Stage),
		hooks:    hooks(cfg.Hooks),
		carry:    make(map[tp]map[int64]failures),
		parts:    make(map[tp]*partState),
		ready:    newLaneQueue(cfg.TopicWeights),
		shares:   newClassShares(&cfg),
		changed:  make(chan struct{}),
		gather:   make(chan struct{}, 1),
		br:       breaker{threshold: cfg.BreakerThreshold, base: cfg.RetryBackoff, limit: cfg.MaxServerBackoff},
		lim:      newLimiter(cfg.MinInFlightBatches, cfg.MaxInFlightBatches),
		zombies:  make(map[tp][]*partState),
		shutdown: make(chan struct{}),
	}
	e.produceCtx, e.cancelProduce = context.WithCancel(context.Background())
	return e, nil
}

func (e *Engine) clientOpts() []kgo.Opt {
	opts := append([]kgo.Opt{}, e.cfg.ClientOpts...)
	opts = append(opts,
		kgo.WithLogger(kslog.New(e.log.With("component", "kafka"))),
		kgo.ConsumerGroup(e.cfg.Group),
		kgo.ConsumeTopics(e.cfg.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(e.onAssigned),
		kgo.OnPartitionsRevoked(e.onRevoked),
		kgo.OnPartitionsLost(e.onLost),
		kgo.SessionTimeout(e.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, e.cfg.SessionTimeout/3)),
		kgo.RebalanceTimeout(e.cfg.RebalanceTimeout),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Small fetches: a fetched record pins its whole response buffer
		// until it is done, so the buffers count against the bound too.
		kgo.FetchMaxBytes(int32(min(e.cfg.MaxInFlightBytes/16, 4<<20))),
		kgo.FetchMaxPartitionBytes(int32(min(e.cfg.MaxInFlightBytes/32, 1<<20))),
		// Paused partitions resume only after the fetch in flight returns.
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ProducerLinger(2*time.Millisecond),
	)
	if e.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(e.cfg.InstanceID))
	}
	if e.cfg.GroupProtocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	if !e.cfg.ExactlyOnce {
		opts = append(opts, kgo.AutoCommitMarks(), kgo.AutoCommitInterval(e.cfg.CommitInterval), kgo.AutoCommitCallback(e.onCommit))
	} else {
		opts = append(opts, kgo.TransactionalID(e.cfg.TransactionalID), kgo.TransactionTimeout(e.cfg.TransactionTimeout))
	}
	return opts
}

// Run consumes until ctx is canceled or a fatal error occurs, then drains
// in-flight work for up to DrainTimeout, commits what is done and leaves
// the group. It returns nil after a clean shutdown.
func (e *Engine) Run(ctx context.Context) error {
	var cl *kgo.Client
	if e.cfg.ExactlyOnce {
		sess, err := kgo.NewGroupTransactSession(e.clientOpts()...)
		if err != nil {
			return fmt.Errorf("engine: kafka transact session: %w", err)
		}
		e.sess, cl = sess, sess.Client()
	} else {
		var err error
		if cl, err = kgo.NewClient(e.clientOpts()...); err != nil {
			return fmt.Errorf("engine: kafka client: %w", err)
		}
	}
	e.cl = cl
	pollCtx, stopPoll := context.WithCancel(ctx)
	e.mu.Lock()
	e.stopPoll = stopPoll
	e.mu.Unlock()

	go func() {
		<-pollCtx.Done()
		close(e.shutdown)
	}()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	for range e.cfg.MaxInFlightBatches {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e.worker(workCtx)
		}()
	}

	e.hooks.concurrencyLimit(e.lim.current()) // the starting value, for gauges
	e.log.Info("consuming", "group", e.cfg.Group, "topics", e.cfg.Topics, "ordering", e.cfg.Ordering,
		"max_in_flight_batches", e.cfg.MaxInFlightBatches, "batch_size", e.cfg.BatchMaxRecords, "exactly_once", e.cfg.ExactlyOnce)
	if e.sess != nil {
		e.pollTransactional(pollCtx)
	} else {
		e.poll(pollCtx)
	}

	// Shutdown: no new batches; let in-flight ones finish within the deadline.
	deadline := time.Now().Add(e.cfg.DrainTimeout)
	e.mu.Lock()
	e.closing = true
	e.signalLocked()
	e.mu.Unlock()
	e.waitDispatched(deadline, false)
	flushCtx, cancelFlush := context.WithDeadline(context.Background(), deadline)
	if err := cl.Flush(flushCtx); err != nil {
		e.log.Warn("shutdown: outputs not all acknowledged before the deadline", "err", err)
	}
	cancelFlush()
	e.cancelProduce()
	stopWork()
	workers.Wait()

	e.commit(context.Background())
	e.leave()
	e.mu.Lock()
	fatal := e.fatal
	e.mu.Unlock()
	return fatal
}

func (e *Engine) leave() {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if e.cfg.InstanceID == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := e.cl.LeaveGroupContext(ctx); err != nil {
				e.log.Warn("leaving the group", "err", err)
			}
			cancel()
		}
		e.cl.CloseAllowingRebalance()
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		e.log.Warn("shutdown: client did not close in time; exiting anyway")
	}
}

// commit marks every partition's watermark and commits synchronously. In
// exactly-once mode offsets are committed only inside transactions.
func (e *Engine) commit(ctx context.Context) {
	if e.cfg.ExactlyOnce {
		return
	}
	e.mu.Lock()
	marks := map[string]map[int32]kgo.EpochOffset{}
	for t, ps := range e.parts {
		if ps.led.next >= 0 {
			if marks[t.topic] == nil {
				marks[t.topic] = map[int32]kgo.EpochOffset{}
			}
			marks[t.topic][t.partition] = kgo.EpochOffset{Epoch: ps.led.epoch, Offset: ps.led.next}
		}
	}
	e.mu.Unlock()
	e.cl.MarkCommitOffsets(marks)
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CommitTimeout)
	defer cancel()
	start := time.Now()
	err := e.cl.CommitMarkedOffsets(cctx)
	e.hooks.committed(Committed{Took: time.Since(start), Err: err})
	if err != nil {
		e.log.Warn("commit failed", "err", err)
	}
}

func (e *Engine) onCommit(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
	e.hooks.committed(Committed{Err: err})
	if err != nil && !errors.Is(err, context.Canceled) {
		e.log.Warn("periodic commit failed", "err", err)
	}
}

// fail records a fatal error and stops polling.
func (e *Engine) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fatal == nil {
		e.fatal = err
		e.log.Error("stopping after a fatal error", "err", err)
		if e.stopPoll != nil {
			e.stopPoll()
		}
	}
}

// signalLocked wakes everything waiting for a state change.
func (e *Engine) signalLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// answered reports whether the server answered a request since the given
// time; if not and Config.Probe is set, it probes (one probe at a time, and
// none while a probe failed after since) and reports the probe's outcome.
func (e *Engine) answered(ctx context.Context, since time.Time) bool {
	if e.lastAnswer.Load() > since.UnixNano() {
		return true
	}
	if e.cfg.Probe == nil || ctx.Err() != nil {
		return false
	}
	e.probeMu.Lock()
	defer e.probeMu.Unlock()
	if e.lastAnswer.Load() > since.UnixNano() {
		return true // another worker's probe or batch succeeded meanwhile
	}
	if e.lastProbeFail > since.UnixNano() {
		return false // a probe already failed since: an outage
	}
	pctx, cancel := context.WithTimeout(ctx, max(e.cfg.MaxServerBackoff, 5*time.Second))
	err := e.cfg.Probe(pctx)
	cancel()
	if err != nil {
		e.lastProbeFail = time.Now().UnixNano()
		return false
	}
	e.noteAnswer()
	return true
}

func (e *Engine) noteAnswer() { e.lastAnswer.Store(time.Now().UnixNano()) }
