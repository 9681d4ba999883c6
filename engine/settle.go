package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/fault"
)

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
