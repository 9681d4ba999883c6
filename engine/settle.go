package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/fault"
)

// batchOutcome sums up what a batch's results say about the server.
type batchOutcome struct {
	answered bool  // some record succeeded, failed for a record reason, or was pinned as toxic
	outage   error // a server error the engine could not pin on a record
	overload bool  // the server pushed back (429, 503, Retry-After)
}

// process runs one batch and settles its records.
func (e *Engine) process(ctx context.Context, batch []*entry, bytes int) {
	recs := make([]*kgo.Record, len(batch))
	for i, en := range batch {
		recs[i] = en.rec
	}
	start := time.Now()
	r := runner{h: e.cfg.Handler, answered: e.answered, onAnswer: e.noteAnswer}
	outs := r.run(ctx, recs)
	took := time.Since(start)
	var failed map[fault.Class]int
	for _, o := range outs {
		if o.Err != nil {
			if failed == nil {
				failed = map[fault.Class]int{}
			}
			failed[fault.ClassOf(o.Err)]++
		}
	}
	e.hooks.batchHandled(BatchHandled{Records: len(batch), Bytes: bytes, Took: took, Failed: failed})

	var bo batchOutcome
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].ln == batch[i].ln {
			j++
		}
		e.settle(ctx, batch[i:j], outs[i:j], &bo)
		i = j
	}
	var pause, resume bool
	e.mu.Lock()
	e.active--
	was, limit := e.br.state, e.lim.current()
	if bo.overload {
		e.lim.overload()
	}
	switch {
	case bo.answered:
		if !bo.overload {
			e.lim.observe(took, len(batch) >= max(1, e.cfg.BatchMaxRecords/2))
		}
		if e.br.success() {
			resume = true
			e.log.Info("circuit breaker closed: the server answers again; resuming intake")
		}
	case bo.outage != nil:
		state, d := e.br.failure(time.Now(), fault.RetryAfterOf(bo.outage))
		if state == breakerOpen && was != breakerOpen && !e.closing {
			pause = was == breakerClosed
			e.log.Warn("circuit breaker open: server errors persist; pausing intake, no attempt counted",
				"err", bo.outage, "probe_in", d.Round(time.Millisecond), "consecutive_failures", e.br.consecutive)
		}
	}
	if now := e.lim.current(); now != limit {
		e.hooks.concurrencyLimit(now)
	}
	state := e.br.state
	e.signalLocked()
	e.mu.Unlock()
	if state != was {
		e.hooks.breakerChanged(state.String())
	}
	// Pause fetching whole topics: independent of the per-partition pauses
	// of the memory bound.
	if pause || resume {
		e.syncTopics()
	}
	e.resumeClasses() // records of dropped partitions were forgotten
}

// settle emits the results of one lane's segment in offset order. The first
// failed record stops the segment: it and the records after it go back to
// the lane head, so no later output of the key overtakes it.
func (e *Engine) settle(ctx context.Context, seg []*entry, outs []outcome, bo *batchOutcome) {
	for i, en := range seg {
		o := outs[i]
		if o.Err == nil {
			e.emit(en, o.Outputs)
			bo.answered = true
			continue
		}
		if fault.IsFatal(o.Err) {
			e.fail(o.Err)
			e.putBack(seg[i:], 0)
			return
		}
		if ctx.Err() != nil { // shutting down: not the record's fault
			e.putBack(seg[i:], 0)
			return
		}
		class := fault.ClassOf(o.Err)
		if class == fault.ClassServer {
			if fault.IsOverload(o.Err) {
				bo.overload = true
			}
			if !o.alone || !e.answered(ctx, o.start) {
				// An outage, or a failure not pinned on this record: retry
				// after a backoff of its own, count nothing.
				bo.outage = o.Err
				e.mu.Lock()
				en.srvRetries++
				d := max(backoff(e.cfg.RetryBackoff, e.cfg.MaxServerBackoff, en.srvRetries), fault.RetryAfterOf(o.Err))
				e.putBackLocked(seg[i:], d)
				e.mu.Unlock()
				e.hooks.recordFailed(e.failedEvent(en, class, false, o.Err))
				return
			}
			// Alone, while the server answers others: the record's own.
		} else {
			// A record error (or a batch error on a record alone).
			class = fault.ClassRecord
		}
		bo.answered = true
		if n, retryIn := e.countFailure(en, class, o.Err); retryIn > 0 {
			e.putBack(seg[i:], retryIn)
		} else {
			e.deadLetter(seg, i, o.Err, class, n)
		}
		return
	}
	e.mu.Lock()
	e.releaseLocked(seg[0].ln)
	e.mu.Unlock()
}

// countFailure counts a failure of en (class record: an attempt; class
// server: a failure alone while the server answers). It returns the count
// and, below the limit, the backoff before the record's retry; zero at the
// limit: dead-letter it.
func (e *Engine) countFailure(en *entry, class fault.Class, err error) (int, time.Duration) {
	now := time.Now()
	e.mu.Lock()
	var n, limit int
	base, ceiling := e.cfg.RetryBackoff, e.cfg.MaxRetryBackoff
	if class == fault.ClassServer {
		en.srvFails++
		n, limit, ceiling = en.srvFails, e.cfg.MaxServerFailures, e.cfg.MaxServerBackoff
	} else {
		en.attempts++
		n, limit = en.attempts, e.cfg.MaxAttempts
	}
	if en.first.IsZero() {
		en.first = now
	}
	en.last = now
	e.mu.Unlock()
	e.hooks.recordFailed(e.failedEvent(en, class, true, err))
	if n >= limit {
		return n, 0
	}
	d := max(backoff(base, ceiling, n), fault.RetryAfterOf(err), time.Millisecond)
	log := e.log.With("topic", en.rec.Topic, "partition", en.rec.Partition, "offset", en.rec.Offset,
		"key", string(en.rec.Key), "class", class.String(), "failures", n, "err", err, "retry_in", d.Round(time.Millisecond))
	if class == fault.ClassServer {
		log.Warn("record failed alone with a server error while the server answers others; retrying it alone", "limit", limit)
	} else {
		log.Warn("record failed; retrying its key after backoff")
	}
	return n, d
}

func (e *Engine) failedEvent(en *entry, class fault.Class, counted bool, err error) RecordFailed {
	return RecordFailed{Topic: en.rec.Topic, Partition: en.rec.Partition, Offset: en.rec.Offset,
		Class: class, Counted: counted, Err: err}
}

// deadLetter gives up on seg[i]: its dead-letter records are produced and
// it is done once they are acknowledged. The rest of the segment was
// computed before the record was given up; it goes back to the lane, so
// the handler sees it again (and may now skip the failed document's other
// records).
func (e *Engine) deadLetter(seg []*entry, i int, err error, class fault.Class, failures int) {
	en := seg[i]
	e.log.Error("record failed too often; dead-lettering it", "topic", en.rec.Topic, "partition", en.rec.Partition,
		"offset", en.rec.Offset, "key", string(en.rec.Key), "class", class.String(), "failures", failures, "err", err)
	e.hooks.recordDeadLettered(e.failedEvent(en, class, true, err))
	var outs []*kgo.Record
	if e.cfg.DeadLetter != nil {
		e.mu.Lock()
		f := Failure{Stage: e.cfg.Stage, Err: err, Class: class, Attempts: failures,
			FirstFailure: en.first, LastFailure: en.last}
		e.mu.Unlock()
		outs = e.cfg.DeadLetter(en.rec, f)
	}
	e.emit(en, outs)
	e.mu.Lock()
	if i+1 < len(seg) {
		e.putBackLocked(seg[i+1:], 0)
	} else {
		e.releaseLocked(en.ln)
	}
	e.mu.Unlock()
}

// putBack is putBackLocked under e.mu.
func (e *Engine) putBack(seg []*entry, delay time.Duration) {
	e.mu.Lock()
	e.putBackLocked(seg, delay)
	e.mu.Unlock()
}

// emit produces outs in order; the record is done when all are acknowledged.
// Nothing is produced for a record of a dropped partition (its next owner
// processes it again) or while an exactly-once round is being aborted.
func (e *Engine) emit(en *entry, outs []*kgo.Record) {
	e.produceGate.RLock()
	defer e.produceGate.RUnlock()
	e.mu.Lock()
	skip := en.ps.dropped || e.aborting
	e.mu.Unlock()
	if skip {
		e.discard(en)
		return
	}
	if len(outs) == 0 {
		e.complete(en)
		return
	}
	en.pending.Store(int32(len(outs)))
	for _, out := range outs {
		if out.Key == nil {
			out.Key = en.rec.Key
		}
		if e.cfg.Lineage != nil {
			out.Headers = append(out.Headers, e.cfg.Lineage(en.rec)...)
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

// discard settles a dispatched record whose outputs are not produced: it
// stays not done and is forgotten (its partition is gone or being
// rewound), so it is read again by whoever owns the partition next.
func (e *Engine) discard(en *entry) {
	e.mu.Lock()
	en.ps.dispatched--
	e.dispatched--
	dropped := en.ps.dropped
	if dropped {
		e.forgetLocked(en)
	}
	e.signalLocked()
	e.mu.Unlock()
	if dropped {
		e.resumeClasses()
	}
}

// abandon gives up on en after its output could not be produced: the
// record stays not done (its offset is never committed, so it is read
// again after a restart) and the engine stops, unless it was already
// shutting down (the output was cut off by the deadline), aborting a
// transaction, or the partition was dropped.
func (e *Engine) abandon(en *entry, err error) {
	if en.pending.Swap(-1) < 0 {
		return // already abandoned for another output
	}
	e.mu.Lock()
	en.ps.dispatched--
	e.dispatched--
	quiet := e.closing || e.aborting || en.ps.dropped
	e.signalLocked()
	e.mu.Unlock()
	if quiet {
		e.log.Debug("output not produced during shutdown, an abort or a revoke; the record will be read again", "err", err)
		return
	}
	e.fail(err)
}

// complete marks en done and advances its partition's watermark; the
// records the watermark passes stop counting against the memory bound.
func (e *Engine) complete(en *entry) {
	var (
		mark   map[string]map[int32]kgo.EpochOffset
		resume []*partState
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
	e.inflightRecords--
	switch {
	case ps.dropped:
		e.releaseBytesLocked(en)
	case ps.led.advance(e.releaseBytesLocked):
		mark = map[string]map[int32]kgo.EpochOffset{ps.tp.topic: {ps.tp.partition: {Epoch: ps.led.epoch, Offset: ps.led.next}}}
	}
	resume = e.resumeClassLocked(ps.tp.topic)
	if ps.paused && !ps.dropped && ps.bytes <= e.shareLocked()/2 && (e.shares == nil || !e.shares.paused[ps.tp.topic]) {
		ps.paused = false
		resume = append(resume, ps)
	}
	e.signalLocked()
	e.mu.Unlock()
	e.done.Add(1)
	e.hooks.recordsDone(1)
	if mark != nil && !e.cfg.ExactlyOnce {
		e.cl.MarkCommitOffsets(mark)
	}
	e.syncPaused(false, resume)
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
