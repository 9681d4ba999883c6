package engine

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type tp struct {
	topic     string
	partition int32
}

// partState is an assigned partition. Every field is guarded by Engine.mu.
type partState struct {
	tp         tp
	led        ledger
	lanes      map[laneKey]*lane
	bytes      int64 // bytes of records taken and not yet past the watermark
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

// entry is one record taken from Kafka. Its fields are guarded by
// Engine.mu, except pending (outputs not yet acknowledged), which produce
// callbacks count down.
type entry struct {
	seq  uint64 // intake order across partitions
	rec  *kgo.Record
	ps   *partState
	ln   *lane
	size int64
	// failures is what the record's failed attempts left behind; it
	// survives an exactly-once rewind (Engine.carry).
	failures
	taken    time.Time
	pending  atomic.Int32
	done     bool // outputs acknowledged, dead-lettered, or forgotten
	released bool // its bytes no longer count against the bound
}

// failures counts a record's failed attempts.
type failures struct {
	attempts    int // record-class failures (MaxAttempts)
	srvFails    int // server-class failures alone while the server answered (MaxServerFailures)
	srvRetries  int // server-class failures during outages, for the backoff only
	first, last time.Time
}

// suspect says the record failed alone with a server error while the
// server answered others: it is sent alone until it succeeds.
func (f *failures) suspect() bool { return f.srvFails > 0 }

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

// forgetLocked drops a record of a dropped partition.
func (e *Engine) forgetLocked(en *entry) {
	if !en.done {
		en.done = true
		e.inflightRecords--
	}
	e.releaseBytesLocked(en)
}

// releaseBytesLocked stops counting en's bytes against the bound: when the
// watermark passes it, or its partition is dropped.
func (e *Engine) releaseBytesLocked(en *entry) {
	if en.released {
		return
	}
	en.released = true
	e.inflightBytes -= en.size
	en.ps.bytes -= en.size
	e.shares.add(en.ps.tp.topic, -en.size)
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
