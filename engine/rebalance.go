package engine

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

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
	var zombies []*partState
	for t, ps := range assigned {
		for _, p := range ps {
			zombies = append(zombies, e.zombies[tp{t, p}]...)
		}
	}
	e.mu.Unlock()
	if len(zombies) > 0 && !e.waitDispatched(time.Now().Add(e.cfg.DrainTimeout), true, zombies...) {
		e.log.Warn("assigned: batches of the previous assignment still run; their outputs may repeat")
	}
	e.mu.Lock()
	for _, z := range zombies {
		delete(e.zombies, z.tp)
	}
	var fresh []*partState
	for t, ps := range assigned {
		for _, p := range ps {
			st := newPartState(tp{t, p})
			e.parts[tp{t, p}] = st
			fresh = append(fresh, st)
		}
	}
	pause := e.pauseAssignedLocked(fresh)
	n := len(e.parts)
	e.mu.Unlock()
	if len(pause) > 0 {
		e.syncPartitions(pause...)
	}
	e.log.Info("partitions assigned", "partitions", assigned)
	e.hooks.assigned(n)
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
	e.forgetCarry(parts)
	e.log.Info("partitions revoked", "partitions", revoked)
}

// onLost drops the partitions without committing: another member owns them.
func (e *Engine) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	parts := lookup(e.parts, lost)
	e.mu.Unlock()
	e.drop(parts)
	e.forgetCarry(parts)
	e.log.Warn("partitions lost; dropped without commit", "partitions", lost)
}

// forgetCarry drops the failure counts kept for parts' records: another
// member processes them now.
func (e *Engine) forgetCarry(parts []*partState) {
	e.mu.Lock()
	for _, ps := range parts {
		delete(e.carry, ps.tp)
	}
	e.mu.Unlock()
}

func (e *Engine) drop(parts []*partState) {
	e.mu.Lock()
	for _, ps := range parts {
		ps.dropped = true
		for i := ps.led.head; i < len(ps.led.entries); i++ {
			switch en := ps.led.entries[i]; {
			case en.done:
				e.releaseBytesLocked(en)
			case en.ln != nil && !en.ln.busy:
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
			// Tracked per dropped state: a partition dropped twice while
			// an older batch runs keeps both.
			e.zombies[ps.tp] = append(e.zombies[ps.tp], ps)
		}
	}
	// The dropped lanes' heads changed: take them out of the ready heap
	// and restore its order.
	e.ready.filter(func(ln *lane) bool { return !ln.ps.dropped })
	e.signalLocked()
	e.mu.Unlock()
	e.syncPartitions(parts...) // resume what the memory bound had paused
	e.resumeClasses()          // the dropped records' bytes left their classes
	e.mu.Lock()
	n := len(e.parts)
	e.mu.Unlock()
	e.hooks.assigned(n)
}
