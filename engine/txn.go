package engine

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pollTransactional is the intake loop of exactly-once mode. Each round is
// one transaction: poll, process every record taken (still in parallel
// across keys, in order per key), then commit the outputs and the input
// offsets atomically with the GroupTransactSession. Rebalances wait for the
// round to end (BlockRebalanceOnPoll), so a revoke never splits a
// transaction.
//
// A round has a deadline (Config.txnRoundTimeout: half of the smaller of
// the transaction and rebalance timeouts). A round that cannot finish by
// then — an embedding outage, a record the server never answers — is
// aborted: its records are read again from the last committed offsets
// after a backoff, the member stays in the group, rebalances go ahead in
// between, and the failure counts of its records are carried over so that
// a toxic record is still dead-lettered in the end. The next round takes
// half as many records (back up by doubling after each commit), so a
// round too big to finish before its deadline cannot livelock the worker.
func (e *Engine) pollTransactional(ctx context.Context) {
	aborts := 0
	// limit is the records of the next round: halved after a round that
	// missed its deadline, so that a round small enough to finish is
	// always reached (progress under load or a slow server), and doubled
	// back after each commit.
	limit := e.cfg.TxnMaxRecords
	for ctx.Err() == nil {
		if err := e.sess.Begin(); err != nil {
			e.fail(err)
			return
		}
		fetches := e.sess.PollRecords(ctx, limit)
		if fetches.IsClientClosed() {
			e.endTxn(false)
			e.cl.AllowRebalance()
			return
		}
		e.intake(fetches)
		done, timedOut := e.waitAllDone(ctx, time.Now().Add(e.cfg.txnRoundTimeout()))
		if ctx.Err() != nil {
			// Shutting down: no new batches while the round ends.
			e.mu.Lock()
			e.closing = true
			e.signalLocked()
			e.mu.Unlock()
		}
		committed := e.endTxn(done)
		e.cl.AllowRebalance()
		if committed || !timedOut {
			if committed {
				limit = min(e.cfg.TxnMaxRecords, 2*limit)
			}
			aborts = 0
			continue
		}
		aborts++
		limit = max(1, limit/2)
		d := backoff(e.cfg.RetryBackoff, e.cfg.MaxServerBackoff, aborts)
		e.log.Warn("transaction round did not finish before its deadline; aborted, retrying after backoff",
			"deadline", e.cfg.txnRoundTimeout(), "retry_in", d.Round(time.Millisecond), "aborts_in_a_row", aborts,
			"next_round_records", limit)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// waitAllDone waits until every record taken is done, until the round's
// deadline, or, after ctx ends, up to DrainTimeout more (never past the
// deadline). It reports whether everything finished, and whether the
// deadline passed.
func (e *Engine) waitAllDone(ctx context.Context, deadline time.Time) (done, timedOut bool) {
	drainSet := false
	for {
		e.mu.Lock()
		n := e.inflightRecords
		fatal := e.fatal
		ch := e.changed
		e.mu.Unlock()
		if n == 0 {
			return true, false
		}
		if fatal != nil {
			return false, false
		}
		if ctx.Err() != nil && !drainSet {
			drainSet = true
			if d := time.Now().Add(e.cfg.DrainTimeout); d.Before(deadline) {
				deadline = d
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, !drainSet
		}
		t := time.NewTimer(left)
		var stop <-chan struct{}
		if !drainSet {
			stop = ctx.Done()
		}
		select {
		case <-ch:
		case <-t.C:
		case <-stop:
		}
		t.Stop()
	}
}

// endTxn commits (or aborts) the current transaction and reports whether
// it committed. No output is handed to the producer while the transaction
// ends. After an abort the session has rewound to the committed offsets,
// so the engine forgets the round's records (keeping their failure counts)
// and takes them again when they are fetched again.
func (e *Engine) endTxn(commit bool) bool {
	e.mu.Lock()
	e.aborting = !commit
	e.mu.Unlock()
	e.produceGate.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CommitTimeout+e.cfg.DrainTimeout)
	start := time.Now()
	committed, err := e.sess.End(ctx, kgo.TransactionEndTry(commit))
	cancel()
	e.produceGate.Unlock()
	e.hooks.committed(Committed{Took: time.Since(start), Err: err})
	if err != nil {
		e.log.Warn("ending transaction failed; its records will be processed again", "err", err)
	} else if commit && !committed {
		e.log.Warn("transaction aborted (rebalance); its records will be processed again")
	}
	if committed {
		return true
	}
	e.mu.Lock()
	e.aborting = true // End may have aborted a commit
	var parts []*partState
	for _, ps := range e.parts {
		parts = append(parts, ps)
		for i := ps.led.head; i < len(ps.led.entries); i++ {
			if en := ps.led.entries[i]; en.attempts > 0 || en.srvFails > 0 {
				if e.carry[ps.tp] == nil {
					e.carry[ps.tp] = map[int64]failures{}
				}
				e.carry[ps.tp][en.rec.Offset] = en.failures
			}
		}
	}
	e.mu.Unlock()
	e.drop(parts)
	e.mu.Lock()
	for _, ps := range parts {
		e.parts[ps.tp] = newPartState(ps.tp)
	}
	e.aborting = false
	n := len(e.parts)
	e.mu.Unlock()
	e.hooks.assigned(n)
	return false
}
