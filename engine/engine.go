package engine

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/ragpipe/ragpipe/fault"
)

// Engine consumes input topics in a consumer group and runs the handler on
// batches, keeping the configured order, committing only done prefixes.
type Engine struct {
	cfg Config
	log *slog.Logger
	cl  *kgo.Client
	// sess runs transactions in exactly-once mode; nil otherwise.
	sess *kgo.GroupTransactSession

	// Lineage returns headers to add to every output of in; set by the
	// stage (package event's lineage headers).
	lineage func(in *kgo.Record) []kgo.RecordHeader

	mu      sync.Mutex
	parts   map[tp]*partState
	ready   laneQueue
	changed chan struct{} // closed and replaced whenever state changes

	seq             uint64 // last intake sequence number
	inflightBytes   int64
	inflightRecords int
	dispatched      int      // records handed to the handler or awaiting acks
	br              breaker  // server errors: retry pause, then open circuit
	lim             *limiter // adaptive bound on batches in flight
	active          int      // batches handed to the handler and not settled
	closing         bool
	fatal           error
	stopPoll        context.CancelFunc

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
	zombies map[tp]*partState
	// shutdown is closed when Run's context ends: waits inside rebalance
	// callbacks stop early.
	shutdown chan struct{}
	// produceCtx is canceled at the shutdown deadline, so that a produce
	// blocked on a full buffer returns.
	produceCtx    context.Context
	cancelProduce context.CancelFunc
}

type tp struct {
	topic     string
	partition int32
}

type partState struct {
	tp         tp
	led        ledger
	lanes      map[laneKey]*lane
	bytes      int64 // bytes of records taken and not done
	dispatched int   // records of this partition dispatched and not settled
	lastOffset int64
	hwm        int64 // high watermark from the last fetch, for lag
	paused     bool
	revoking   bool
	dropped    bool
}

type laneKey struct {
	key    string
	offset int64 // unordered: each record is its own lane
}

// lane is the FIFO of one key's waiting records (or a partition's, or a
// single record's, depending on the ordering). At most one batch holds
// records of a lane at any time, which keeps the lane's emission in order.
type lane struct {
	key    laneKey
	ps     *partState
	q      []*entry
	busy   bool // a batch holds its head records
	fenced bool // waiting for a retry backoff
	queued bool // in the ready queue
}

type entry struct {
	seq      uint64 // intake order across partitions
	rec      *kgo.Record
	ps       *partState
	ln       *lane
	size     int64
	attempts int
	first    time.Time
	last     time.Time
	taken    time.Time
	pending  atomic.Int32
	done     bool
}

// New validates cfg and returns an engine; Run starts it.
func New(cfg Config, lineage func(*kgo.Record) []kgo.RecordHeader) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger.With("stage", cfg.Stage),
		lineage:  lineage,
		parts:    make(map[tp]*partState),
		changed:  make(chan struct{}),
		gather:   make(chan struct{}, 1),
		br:       breaker{threshold: cfg.BreakerThreshold, base: cfg.RetryBackoff, limit: cfg.MaxServerBackoff},
		lim:      newLimiter(cfg.MinInFlightBatches, cfg.MaxInFlightBatches),
		zombies:  make(map[tp]*partState),
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
		kgo.RequireStableFetchOffsets(),
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
	if !e.cfg.ExactlyOnce {
		opts = append(opts, kgo.AutoCommitMarks(), kgo.AutoCommitInterval(e.cfg.CommitInterval), kgo.AutoCommitCallback(e.onCommit))
	} else {
		opts = append(opts, kgo.TransactionalID(e.cfg.TransactionalID), kgo.TransactionTimeout(max(2*e.cfg.RebalanceTimeout, time.Minute)))
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
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	err := e.cl.CommitMarkedOffsets(cctx)
	e.cfg.Observer.Committed(time.Since(start), err)
	if err != nil {
		e.log.Warn("commit failed", "err", err)
	}
}

func (e *Engine) onCommit(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
	e.cfg.Observer.Committed(0, err)
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

// poll takes records from Kafka into the ledgers and lanes until ctx ends.
func (e *Engine) poll(ctx context.Context) {
	for ctx.Err() == nil {
		// Memory bound: wait while the in-flight bytes are at the limit.
		e.mu.Lock()
		over := e.inflightBytes >= e.cfg.MaxInFlightBytes
		ch := e.changed
		e.mu.Unlock()
		if over {
			select {
			case <-ch:
			case <-ctx.Done():
			}
			continue
		}
		fetches := e.cl.PollRecords(ctx, 10000)
		if fetches.IsClientClosed() {
			e.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				e.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		e.intake(fetches)
		e.cl.AllowRebalance()
	}
}

func (e *Engine) intake(fetches kgo.Fetches) {
	now := time.Now()
	var toPause []*partState
	e.mu.Lock()
	share := e.shareLocked()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if ps := e.parts[tp{p.Topic, p.Partition}]; ps != nil && p.HighWatermark > ps.hwm {
			ps.hwm = p.HighWatermark
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		ps := e.parts[tp{r.Topic, r.Partition}]
		if ps == nil || ps.revoking || ps.dropped || r.Offset <= ps.lastOffset {
			return
		}
		ps.lastOffset = r.Offset
		e.seq++
		en := &entry{seq: e.seq, rec: r, ps: ps, size: recordSize(r), taken: now}
		ps.led.push(en)
		ps.bytes += en.size
		e.inflightBytes += en.size
		e.inflightRecords++
		lk := e.laneKeyOf(r)
		ln := ps.lanes[lk]
		if ln == nil {
			ln = &lane{key: lk, ps: ps}
			ps.lanes[lk] = ln
		}
		en.ln = ln
		ln.q = append(ln.q, en)
		e.readyLocked(ln)
		if !ps.paused && ps.bytes > share {
			ps.paused = true
			toPause = append(toPause, ps)
		}
	})
	e.signalLocked()
	e.mu.Unlock()
	if len(toPause) > 0 {
		e.syncPartitions(toPause...)
		for _, ps := range toPause {
			e.cfg.Observer.PartitionPaused(ps.tp.topic, ps.tp.partition, true)
		}
	}
}

// syncPartitions applies the current pause state of parts to the client:
// paused for the memory bound, resumed otherwise (also once dropped).
func (e *Engine) syncPartitions(parts ...*partState) {
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	pause, resume := map[string][]int32{}, map[string][]int32{}
	e.mu.Lock()
	for _, ps := range parts {
		if ps.paused && !ps.dropped {
			pause[ps.tp.topic] = append(pause[ps.tp.topic], ps.tp.partition)
		} else {
			resume[ps.tp.topic] = append(resume[ps.tp.topic], ps.tp.partition)
		}
	}
	e.mu.Unlock()
	if len(pause) > 0 {
		e.cl.PauseFetchPartitions(pause)
	}
	if len(resume) > 0 {
		e.cl.ResumeFetchPartitions(resume)
	}
}

// syncTopics applies the breaker's current state to the client: every
// input topic paused while it is open or probing, resumed when closed.
func (e *Engine) syncTopics() {
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	e.mu.Lock()
	want := e.br.state != breakerClosed
	e.mu.Unlock()
	if want == e.topicsPaused {
		return
	}
	if want {
		e.cl.PauseFetchTopics(e.cfg.Topics...)
	} else {
		e.cl.ResumeFetchTopics(e.cfg.Topics...)
	}
	e.topicsPaused = want
}

// recordOverhead approximates the memory a record costs beyond its key and
// value: the kgo.Record, its entry in the ledger and lane, and headers.
const recordOverhead = 320

// recordSize is what a record counts against MaxInFlightBytes.
func recordSize(r *kgo.Record) int64 {
	n := len(r.Key) + len(r.Value) + recordOverhead
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 32
	}
	return int64(n)
}

// shareLocked is one partition's share of the in-flight byte bound.
func (e *Engine) shareLocked() int64 {
	n := int64(max(1, len(e.parts)))
	return max(e.cfg.MaxInFlightBytes/n, 256<<10)
}

func (e *Engine) laneKeyOf(r *kgo.Record) laneKey {
	switch e.cfg.Ordering {
	case OrderPartition:
		return laneKey{offset: -1}
	case OrderUnordered:
		return laneKey{offset: r.Offset}
	default:
		return laneKey{key: string(r.Key), offset: -1}
	}
}

// readyLocked queues ln for dispatch if it has work and nothing holds it.
func (e *Engine) readyLocked(ln *lane) {
	if ln.queued || ln.busy || ln.fenced || len(ln.q) == 0 || ln.ps.dropped {
		return
	}
	ln.queued = true
	e.ready.push(ln)
}

// worker gathers batches from ready lanes and processes them.
func (e *Engine) worker(ctx context.Context) {
	for {
		select {
		case e.gather <- struct{}{}:
		case <-ctx.Done():
			return
		}
		batch, bytes := e.gatherBatch(ctx)
		<-e.gather
		if len(batch) == 0 {
			e.mu.Lock()
			closing := e.closing
			e.mu.Unlock()
			if closing || ctx.Err() != nil {
				<-ctx.Done()
				return
			}
			continue
		}
		e.process(ctx, batch, bytes)
	}
}

// gatherBatch waits for ready records and fills a batch up to the limits,
// waiting up to BatchWait for a partial batch to fill.
func (e *Engine) gatherBatch(ctx context.Context) ([]*entry, int) {
	var (
		batch    []*entry
		bytes    int
		deadline time.Time
	)
	for {
		e.mu.Lock()
		now := time.Now()
		var wake time.Duration = -1
		if e.closing {
			e.mu.Unlock()
			e.requeue(batch)
			return nil, 0
		}
		maxRecords := e.cfg.BatchMaxRecords
		if len(batch) > 0 && (e.br.state != breakerClosed || now.Before(e.br.until)) {
			// The server failed while this batch was filling: hold nothing.
			e.mu.Unlock()
			e.requeue(batch)
			batch, bytes, deadline = nil, 0, time.Time{}
			continue
		}
		switch {
		case e.br.state == breakerHalfOpen:
			// The probe is in flight: wait for its outcome.
		case e.br.state == breakerOpen && now.Before(e.br.until):
			wake = e.br.until.Sub(now)
		case e.br.state == breakerOpen:
			// Time to probe: one single-record batch.
			if batch, bytes = e.probeLocked(); len(batch) > 0 {
				e.br.state = breakerHalfOpen
				e.log.Info("circuit breaker half-open: probing the server with one record")
				e.active++
				e.mu.Unlock()
				e.cfg.Observer.BreakerChanged(breakerHalfOpen.String())
				return batch, bytes
			}
			if e.dispatched == 0 {
				// Nothing left to probe with (its partitions moved to
				// another member): close, so that fetching resumes.
				e.br.success()
				e.log.Info("circuit breaker closed: nothing left to probe with; resuming intake")
				e.mu.Unlock()
				e.cfg.Observer.BreakerChanged(breakerClosed.String())
				e.syncTopics()
				continue
			}
		case now.Before(e.br.until):
			wake = e.br.until.Sub(now) // retry backoff after a server error
		case len(batch) == 0 && e.active >= e.lim.current():
			// At the adaptive concurrency limit: wait for a batch to settle.
		default:
			batch, bytes = e.fillLocked(batch, bytes, maxRecords)
		}
		full := len(batch) >= maxRecords || bytes >= e.cfg.BatchMaxBytes
		if len(batch) > 0 && (full || e.cfg.BatchWait < 0 || (!deadline.IsZero() && !now.Before(deadline))) {
			e.active++
			e.mu.Unlock()
			return batch, bytes
		}
		ch := e.changed
		e.mu.Unlock()

		if len(batch) > 0 {
			if deadline.IsZero() {
				deadline = now.Add(e.cfg.BatchWait)
			}
			if left := deadline.Sub(now); wake < 0 || left < wake {
				wake = left
			}
		}
		var (
			timer <-chan time.Time
			t     *time.Timer
		)
		if wake >= 0 {
			t = time.NewTimer(wake)
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
		case <-ctx.Done():
			e.requeue(batch)
			return nil, 0
		}
		if t != nil {
			t.Stop()
		}
	}
}

// fillLocked moves ready records into batch: whole runs of a lane's head
// records, lane after lane, until a limit is reached.
func (e *Engine) fillLocked(batch []*entry, bytes, maxRecords int) ([]*entry, int) {
	for e.ready.len() > 0 && len(batch) < maxRecords && bytes < e.cfg.BatchMaxBytes {
		ln := e.ready.pop()
		ln.queued = false
		if ln.busy || ln.fenced || len(ln.q) == 0 || ln.ps.revoking || ln.ps.dropped {
			continue
		}
		took := 0
		for len(ln.q) > took && len(batch) < maxRecords {
			en := ln.q[took]
			if len(batch) > 0 && bytes+int(en.size) > e.cfg.BatchMaxBytes {
				break
			}
			batch = append(batch, en)
			bytes += int(en.size)
			took++
		}
		if took == 0 {
			ln.queued = true
			e.ready.push(ln)
			break
		}
		ln.q = ln.q[took:]
		ln.busy = true
		ln.ps.dispatched += took
		e.dispatched += took
	}
	return batch, bytes
}

// probeLocked takes the head record of a ready lane chosen at random, for
// the breaker's probe. Rotating the probe keeps one record that the server
// cannot take (a 5xx on that input alone) from keeping the breaker open
// for every other record.
func (e *Engine) probeLocked() ([]*entry, int) {
	for e.ready.len() > 0 {
		ln := heap.Remove(&e.ready.h, rand.IntN(e.ready.len())).(*lane)
		ln.queued = false
		if ln.busy || ln.fenced || len(ln.q) == 0 || ln.ps.revoking || ln.ps.dropped {
			continue
		}
		en := ln.q[0]
		ln.q = ln.q[1:]
		ln.busy = true
		ln.ps.dispatched++
		e.dispatched++
		return []*entry{en}, int(en.size)
	}
	return nil, 0
}

// requeue puts the records of an abandoned batch back at their lanes'
// heads, in order, without counting an attempt.
func (e *Engine) requeue(batch []*entry) {
	if len(batch) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].ln == batch[i].ln {
			j++
		}
		e.putBackLocked(batch[i:j], 0)
		i = j
	}
	e.signalLocked()
}

// putBackLocked returns seg (consecutive records of one lane) to the lane
// head and releases the lane, fenced for delay when delay > 0.
func (e *Engine) putBackLocked(seg []*entry, delay time.Duration) {
	ln := seg[0].ln
	ln.ps.dispatched -= len(seg)
	e.dispatched -= len(seg)
	ln.busy = false
	if ln.ps.dropped {
		for _, en := range seg {
			e.forgetLocked(en)
		}
		return
	}
	ln.q = append(append(make([]*entry, 0, len(seg)+len(ln.q)), seg...), ln.q...)
	if delay > 0 {
		ln.fenced = true
		time.AfterFunc(delay, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			ln.fenced = false
			e.readyLocked(ln)
			e.signalLocked()
		})
		return
	}
	e.readyLocked(ln)
}

// releaseLocked frees a lane after its batch settled.
func (e *Engine) releaseLocked(ln *lane) {
	ln.busy = false
	if len(ln.q) == 0 && !ln.fenced {
		delete(ln.ps.lanes, ln.key)
		return
	}
	e.readyLocked(ln)
}

// forgetLocked drops an undone record of a dropped partition.
func (e *Engine) forgetLocked(en *entry) {
	if en.done {
		return
	}
	en.done = true
	e.inflightBytes -= en.size
	e.inflightRecords--
	en.ps.bytes -= en.size
}

func (e *Engine) process(ctx context.Context, batch []*entry, bytes int) {
	recs := make([]*kgo.Record, len(batch))
	for i, en := range batch {
		recs[i] = en.rec
	}
	start := time.Now()
	results := run(ctx, e.cfg.Handler, recs)
	e.cfg.Observer.BatchHandled(len(batch), bytes, time.Since(start))

	serverErr := error(nil)
	succeeded := false
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].ln == batch[i].ln {
			j++
		}
		if e.settle(ctx, batch[i:j], results[i:j], &serverErr) {
			succeeded = true
		}
		i = j
	}
	took := time.Since(start)
	var pause, resume bool
	e.mu.Lock()
	e.active--
	was, limit := e.br.state, e.lim.current()
	switch {
	case serverErr != nil:
		e.lim.overload()
		state, d := e.br.failure(time.Now(), fault.RetryAfterOf(serverErr))
		switch {
		case e.closing:
		case state == breakerOpen && was != breakerOpen:
			pause = was == breakerClosed
			e.log.Warn("circuit breaker open: server errors persist; pausing intake, no attempt counted",
				"err", serverErr, "probe_in", d.Round(time.Millisecond), "consecutive_failures", e.br.consecutive)
		case state == breakerClosed:
			e.log.Warn("server error; retrying with backoff (no attempt counted)",
				"err", serverErr, "retry_in", d.Round(time.Millisecond), "consecutive_failures", e.br.consecutive)
		}
	case succeeded || ctx.Err() == nil:
		// The server answered (a record error is an answer too).
		e.lim.observe(took, len(batch) >= max(1, e.cfg.BatchMaxRecords/2))
		if e.br.success() {
			resume = true
			e.log.Info("circuit breaker closed: the server answers again; resuming intake")
		}
	}
	if now := e.lim.current(); now != limit {
		e.cfg.Observer.ConcurrencyLimit(now)
	}
	state := e.br.state
	e.signalLocked()
	e.mu.Unlock()
	if state != was {
		e.cfg.Observer.BreakerChanged(state.String())
	}
	// Pause fetching whole topics: independent of the per-partition pauses
	// of the memory bound.
	if pause || resume {
		e.syncTopics()
	}
}

// settle emits the results of one lane's segment in offset order. The first
// failed record stops the segment: it and the records after it go back to
// the lane head, so no later output of the key overtakes it. It reports
// whether any record of the segment succeeded.
func (e *Engine) settle(ctx context.Context, seg []*entry, res []Result, serverErr *error) bool {
	ok := false
	for i, en := range seg {
		r := res[i]
		if r.Err == nil {
			e.emit(en, r.Outputs)
			ok = true
			continue
		}
		if isFatal(r.Err) {
			e.fail(r.Err)
			e.mu.Lock()
			e.putBackLocked(seg[i:], 0)
			e.mu.Unlock()
			return ok
		}
		class := fault.ClassOf(r.Err)
		if class == fault.ClassServer || ctx.Err() != nil {
			if ctx.Err() == nil {
				*serverErr = r.Err
			}
			e.cfg.Observer.RecordFailed(fault.ClassServer)
			e.mu.Lock()
			e.putBackLocked(seg[i:], 0)
			e.mu.Unlock()
			return ok
		}
		// A record error (or a batch error on a record alone): count it.
		now := time.Now()
		en.attempts++
		if en.first.IsZero() {
			en.first = now
		}
		en.last = now
		e.cfg.Observer.RecordFailed(fault.ClassRecord)
		log := e.log.With("topic", en.rec.Topic, "partition", en.rec.Partition, "offset", en.rec.Offset,
			"key", string(en.rec.Key), "attempt", en.attempts, "err", r.Err)
		if en.attempts < e.cfg.MaxAttempts {
			d := backoff(e.cfg.RetryBackoff, e.cfg.MaxRetryBackoff, en.attempts)
			log.Warn("record failed; retrying its key after backoff", "retry_in", d.Round(time.Millisecond))
			e.mu.Lock()
			e.putBackLocked(seg[i:], d)
			e.mu.Unlock()
			return ok
		}
		log.Error("record failed too often; dead-lettering it")
		e.cfg.Observer.RecordDeadLettered()
		var outs []*kgo.Record
		if e.cfg.DeadLetter != nil {
			outs = e.cfg.DeadLetter(en.rec, Failure{
				Stage: e.cfg.Stage, Err: r.Err, Class: fault.ClassRecord, Attempts: en.attempts,
				FirstFailure: en.first, LastFailure: en.last,
			})
		}
		e.emit(en, outs)
		if i+1 < len(seg) {
			// The rest of the segment was computed before the record was
			// given up; hand it to the handler again, which may now skip
			// the failed document's remaining records.
			e.mu.Lock()
			e.putBackLocked(seg[i+1:], 0)
			e.mu.Unlock()
			return ok
		}
	}
	e.mu.Lock()
	e.releaseLocked(seg[0].ln)
	e.mu.Unlock()
	return ok
}

// emit produces outs in order; the record is done when all are acknowledged.
func (e *Engine) emit(en *entry, outs []*kgo.Record) {
	if len(outs) == 0 {
		e.complete(en)
		return
	}
	en.pending.Store(int32(len(outs)))
	for _, out := range outs {
		if out.Key == nil {
			out.Key = en.rec.Key
		}
		if e.lineage != nil {
			out.Headers = append(out.Headers, e.lineage(en.rec)...)
		}
		e.cl.Produce(e.produceCtx, out, func(r *kgo.Record, err error) {
			if err != nil {
				e.abandon(en, fmt.Errorf("engine: producing to %s for %s/%d@%d: %w",
					r.Topic, en.rec.Topic, en.rec.Partition, en.rec.Offset, err))
				return
			}
			if en.pending.Add(-1) == 0 { // (an abandoned entry went negative)
				e.complete(en)
			}
		})
	}
}

// abandon gives up on en after its output could not be produced: the
// record stays not done (its offset is never committed, so it is read
// again after a restart) and the engine stops, unless it was already
// shutting down (the output was cut off by the deadline, or an aborted
// transaction).
func (e *Engine) abandon(en *entry, err error) {
	if en.pending.Swap(-1) < 0 {
		return // already abandoned for another output
	}
	e.mu.Lock()
	en.ps.dispatched--
	e.dispatched--
	closing := e.closing
	e.signalLocked()
	e.mu.Unlock()
	if closing {
		e.log.Debug("output not produced during shutdown; the record will be read again", "err", err)
		return
	}
	e.fail(err)
}

// complete marks en done and advances its partition's watermark.
func (e *Engine) complete(en *entry) {
	var (
		mark   map[string]map[int32]kgo.EpochOffset
		resume bool
	)
	e.mu.Lock()
	ps := en.ps
	ps.dispatched--
	e.dispatched--
	if en.done { // forgotten when its partition was dropped
		e.mu.Unlock()
		return
	}
	en.done = true
	e.inflightBytes -= en.size
	e.inflightRecords--
	ps.bytes -= en.size
	if !ps.dropped && ps.led.advance() {
		mark = map[string]map[int32]kgo.EpochOffset{ps.tp.topic: {ps.tp.partition: {Epoch: ps.led.epoch, Offset: ps.led.next}}}
	}
	if ps.paused && !ps.dropped && ps.bytes <= e.shareLocked()/2 {
		ps.paused = false
		resume = true
	}
	e.signalLocked()
	e.mu.Unlock()
	e.done.Add(1)
	e.cfg.Observer.RecordsDone(1)
	if mark != nil && !e.cfg.ExactlyOnce {
		e.cl.MarkCommitOffsets(mark)
	}
	if resume {
		e.syncPartitions(ps)
		e.cfg.Observer.PartitionPaused(ps.tp.topic, ps.tp.partition, false)
	}
}

// waitDispatched waits until no record (of parts, when given) is
// dispatched, or the deadline, or — with abortOnShutdown — Run's shutdown.
func (e *Engine) waitDispatched(deadline time.Time, abortOnShutdown bool, parts ...*partState) bool {
	var shutdown <-chan struct{}
	if abortOnShutdown {
		shutdown = e.shutdown
	}
	for {
		e.mu.Lock()
		n := e.dispatched
		if len(parts) > 0 {
			n = 0
			for _, ps := range parts {
				n += ps.dispatched
			}
		}
		ch := e.changed
		e.mu.Unlock()
		if n == 0 {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		case <-shutdown:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

func (e *Engine) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	// A batch of an earlier assignment of these partitions may still run:
	// let it finish first, so that a key never runs in two batches at once.
	e.mu.Lock()
	zombies := lookup(e.zombies, assigned)
	e.mu.Unlock()
	if len(zombies) > 0 && !e.waitDispatched(time.Now().Add(e.cfg.DrainTimeout), true, zombies...) {
		e.log.Warn("assigned: batches of the previous assignment still run; their outputs may repeat")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, z := range zombies {
		delete(e.zombies, z.tp)
	}
	for t, ps := range assigned {
		for _, p := range ps {
			e.parts[tp{t, p}] = newPartState(tp{t, p})
		}
	}
	e.log.Info("partitions assigned", "partitions", assigned)
}

func newPartState(k tp) *partState {
	return &partState{tp: k, led: newLedger(), lanes: map[laneKey]*lane{}, lastOffset: -1}
}

// lookup returns the states in m of the partitions named by tps.
func lookup(m map[tp]*partState, tps map[string][]int32) []*partState {
	var out []*partState
	for t, ps := range tps {
		for _, p := range ps {
			if st := m[tp{t, p}]; st != nil {
				out = append(out, st)
			}
		}
	}
	return out
}

// onRevoked stops dispatching the revoked partitions, lets their in-flight
// work finish within DrainTimeout, commits what is done and drops the rest
// for the next owner.
func (e *Engine) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	e.mu.Lock()
	parts := lookup(e.parts, revoked)
	for _, st := range parts {
		st.revoking = true
	}
	closing := e.closing
	e.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	if !closing && !e.waitDispatched(time.Now().Add(e.cfg.DrainTimeout), true, parts...) {
		e.log.Warn("revoke: in-flight work did not finish in time; the next owner redoes it")
	}
	e.commit(ctx)
	e.drop(parts)
	e.log.Info("partitions revoked", "partitions", revoked)
}

// onLost drops the partitions without committing: another member owns them.
func (e *Engine) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	parts := lookup(e.parts, lost)
	e.mu.Unlock()
	e.drop(parts)
	e.log.Warn("partitions lost; dropped without commit", "partitions", lost)
}

func (e *Engine) drop(parts []*partState) {
	e.mu.Lock()
	for _, ps := range parts {
		ps.dropped = true
		for i := ps.led.head; i < len(ps.led.entries); i++ {
			if en := ps.led.entries[i]; !en.done && en.ln != nil && !en.ln.busy {
				e.forgetLocked(en)
			}
		}
		// Records of busy lanes are forgotten when their batch settles.
		for _, ln := range ps.lanes {
			if ln.busy {
				for _, en := range ln.q {
					e.forgetLocked(en)
				}
			}
			ln.q = nil
		}
		ps.lanes = nil
		clear(ps.led.entries)
		ps.led.entries, ps.led.head = nil, 0
		delete(e.parts, ps.tp)
		if ps.dispatched > 0 {
			e.zombies[ps.tp] = ps
		}
	}
	// The dropped lanes' heads changed: take them out of the ready heap
	// and restore its order.
	kept := e.ready.h[:0]
	for _, ln := range e.ready.h {
		if ln.ps.dropped {
			ln.queued = false
			continue
		}
		kept = append(kept, ln)
	}
	clear(e.ready.h[len(kept):])
	e.ready.h = kept
	heap.Init(&e.ready.h)
	e.signalLocked()
	e.mu.Unlock()
	e.syncPartitions(parts...) // resume what the memory bound had paused
}

// backoff is the delay before retry n (from 1): base·2^(n-1) capped at max,
// with jitter in [d/2, d].
func backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + rand.N(d/2+1)
}

// PartitionStats describes one assigned partition.
type PartitionStats struct {
	Topic     string
	Partition int32
	// Watermark is the offset to commit next (-1 before any record is done).
	Watermark int64
	// HighWatermark is the partition's end offset as of the last fetch.
	HighWatermark int64
	// Lag is how many records are not yet done: end offset − watermark.
	Lag      int64
	Buffered int64 // bytes of records taken and not done
	Paused   bool
}

// Stats is a snapshot of the engine's state.
type Stats struct {
	InFlightRecords int
	InFlightBytes   int64
	Dispatched      int
	Partitions      int
	PausedParts     int
	OldestAge       time.Duration // age of the oldest record not yet done
	Done            int64         // records done since start
	Parts           []PartitionStats
}

// Stats returns a snapshot; safe to call at any time.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{InFlightRecords: e.inflightRecords, InFlightBytes: e.inflightBytes, Dispatched: e.dispatched,
		Partitions: len(e.parts), Done: e.done.Load()}
	now := time.Now()
	for _, ps := range e.parts {
		if ps.paused {
			s.PausedParts++
		}
		if en := ps.led.oldest(); en != nil {
			s.OldestAge = max(s.OldestAge, now.Sub(en.taken))
		}
		lag := int64(0)
		switch {
		case ps.led.next >= 0:
			lag = ps.hwm - ps.led.next
		case ps.led.oldest() != nil:
			lag = ps.hwm - ps.led.oldest().rec.Offset
		}
		s.Parts = append(s.Parts, PartitionStats{Topic: ps.tp.topic, Partition: ps.tp.partition, Watermark: ps.led.next,
			HighWatermark: ps.hwm, Lag: max(lag, 0), Buffered: ps.bytes, Paused: ps.paused})
	}
	slices.SortFunc(s.Parts, func(a, b PartitionStats) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return s
}
