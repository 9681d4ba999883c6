package engine

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pollTransactional is the intake loop of exactly-once mode. Each round is
// one transaction: poll, process every record taken (still in parallel
// across keys, in order per key), then commit the outputs and the input
// offsets atomically with the GroupTransactSession. Rebalances wait for the
// round to end (BlockRebalanceOnPoll), so a revoke never splits a
// transaction; a round that cannot finish is aborted and its records are
// read again from the last committed offsets.
func (e *Engine) pollTransactional(ctx context.Context) {
	for ctx.Err() == nil {
		if err := e.sess.Begin(); err != nil {
			e.fail(err)
			return
		}
		fetches := e.sess.PollRecords(ctx, e.cfg.TxnMaxRecords)
		if fetches.IsClientClosed() {
			e.endTxn(false)
			e.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				e.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		e.intake(fetches)
		done := e.waitAllDone(ctx)
		e.endTxn(done)
		e.cl.AllowRebalance()
	}
}

// waitAllDone waits until every record taken is done. After ctx ends it
// waits up to DrainTimeout more; it reports whether everything finished.
func (e *Engine) waitAllDone(ctx context.Context) bool {
	var deadline time.Time
	for {
		e.mu.Lock()
		n := e.inflightRecords
		fatal := e.fatal
		ch := e.changed
		e.mu.Unlock()
		if n == 0 {
			return true
		}
		if fatal != nil {
			return false
		}
		if ctx.Err() != nil && deadline.IsZero() {
			deadline = time.Now().Add(e.cfg.DrainTimeout)
		}
		var timer <-chan time.Time
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false
			}
			t := time.NewTimer(left)
			timer = t.C
			select {
			case <-ch:
			case <-timer:
			}
			t.Stop()
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

// endTxn commits (or aborts) the current transaction. After an abort the
// session has rewound to the committed offsets, so the engine forgets the
// round's records and takes them again when they are fetched again.
func (e *Engine) endTxn(commit bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	committed, err := e.sess.End(ctx, kgo.TransactionEndTry(commit))
	e.cfg.Observer.Committed(time.Since(start), err)
	if err != nil {
		e.log.Warn("ending transaction failed; its records will be processed again", "err", err)
	} else if commit && !committed {
		e.log.Warn("transaction aborted (rebalance); its records will be processed again")
	}
	if committed {
		return
	}
	e.mu.Lock()
	var parts []*partState
	for _, ps := range e.parts {
		parts = append(parts, ps)
	}
	e.mu.Unlock()
	e.drop(parts)
	e.mu.Lock()
	for _, ps := range parts {
		e.parts[ps.tp] = newPartState(ps.tp)
	}
	e.mu.Unlock()
}
