package engine

import (
	"context"
	"math/rand/v2"
	"time"
)

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
		if len(batch) > 0 && e.br.state != breakerClosed {
			// The breaker opened while this batch was filling: hold nothing.
			e.mu.Unlock()
			e.requeue(batch)
			batch, bytes, deadline = nil, 0, time.Time{}
			continue
		}
		alone := false
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
				e.hooks.breakerChanged(breakerHalfOpen.String())
				return batch, bytes
			}
			if e.dispatched == 0 {
				// Nothing left to probe with (its partitions moved to
				// another member): close, so that fetching resumes.
				e.br.success()
				e.log.Info("circuit breaker closed: nothing left to probe with; resuming intake")
				e.mu.Unlock()
				e.hooks.breakerChanged(breakerClosed.String())
				e.syncTopics()
				continue
			}
		case len(batch) == 0 && e.active >= e.lim.current():
			// At the adaptive concurrency limit: wait for a batch to settle.
		default:
			batch, bytes, alone = e.fillLocked(batch, bytes, maxRecords)
		}
		full := alone || len(batch) >= maxRecords || bytes >= e.cfg.BatchMaxBytes
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
// records, lane after lane (in the order of the ready queue: priority
// class by weight, then oldest head first), until a limit is reached. A suspect record (one
// that failed alone with a server error while the server answered others)
// travels alone: when the batch is empty it is taken as the whole batch
// and alone is true; otherwise its lane waits for the next batch.
func (e *Engine) fillLocked(batch []*entry, bytes, maxRecords int) (_ []*entry, _ int, alone bool) {
	var skipped []*lane
	defer func() {
		for _, ln := range skipped {
			ln.queued = true
			e.ready.push(ln)
		}
	}()
	for e.ready.len() > 0 && len(batch) < maxRecords && bytes < e.cfg.BatchMaxBytes {
		ln := e.ready.pop()
		ln.queued = false
		if ln.busy || ln.fenced || len(ln.q) == 0 || ln.ps.revoking || ln.ps.dropped {
			continue
		}
		if head := ln.q[0]; head.suspect() {
			if len(batch) > 0 {
				skipped = append(skipped, ln)
				continue
			}
			e.takeLocked(ln, 1)
			e.ready.charge(ln, 1)
			return []*entry{head}, int(head.size), true
		}
		took := 0
		for len(ln.q) > took && len(batch) < maxRecords && !ln.q[took].suspect() {
			en := ln.q[took]
			if len(batch) > 0 && bytes+int(en.size) > e.cfg.BatchMaxBytes {
				break
			}
			batch = append(batch, en)
			bytes += int(en.size)
			took++
		}
		if took == 0 {
			skipped = append(skipped, ln)
			break
		}
		e.takeLocked(ln, took)
		e.ready.charge(ln, took)
	}
	return batch, bytes, false
}

// takeLocked hands the first n records of ln to a batch: the lane is busy
// until the batch settles.
func (e *Engine) takeLocked(ln *lane, n int) {
	ln.q = ln.q[n:]
	ln.busy = true
	ln.ps.dispatched += n
	e.dispatched += n
}

// probeLocked takes the head record of a ready lane chosen at random, for
// the breaker's probe. Rotating the probe keeps one record that the server
// cannot take (a 5xx on that input alone) from keeping the breaker open
// for every other record.
func (e *Engine) probeLocked() ([]*entry, int) {
	for e.ready.len() > 0 {
		ln := e.ready.removeAt(rand.IntN(e.ready.len()))
		ln.queued = false
		if ln.busy || ln.fenced || len(ln.q) == 0 || ln.ps.revoking || ln.ps.dropped {
			continue
		}
		en := ln.q[0]
		e.takeLocked(ln, 1)
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
