package engine

// ledger tracks the records of one partition taken from Kafka, in offset
// order, and finds the commit watermark: the offset after the longest
// prefix of records that are all done. A record finished early waits for
// its predecessors, so a commit never passes an unfinished record.
//
// Records are appended in the order the partition returns them, which is
// increasing offset order. The ledger is a queue: done records are popped
// from the front, so its size is the number of records between the oldest
// unfinished one and the newest taken.
type ledger struct {
	entries []*entry
	head    int
	// next is the offset to commit: one past the last record of the done
	// prefix, or -1 while nothing has been done.
	next int64
	// epoch is the leader epoch of the record at next-1.
	epoch int32
}

func newLedger() ledger { return ledger{next: -1, epoch: -1} }

func (l *ledger) push(e *entry) { l.entries = append(l.entries, e) }

// len is the number of records not yet popped.
func (l *ledger) len() int { return len(l.entries) - l.head }

// oldest returns the first record not yet done, or nil.
func (l *ledger) oldest() *entry {
	if l.head < len(l.entries) {
		return l.entries[l.head]
	}
	return nil
}

// advance pops the done prefix, calling pop (if not nil) for each entry
// popped, and reports whether the watermark moved.
func (l *ledger) advance(pop func(*entry)) bool {
	moved := false
	for l.head < len(l.entries) && l.entries[l.head].done {
		e := l.entries[l.head]
		if pop != nil {
			pop(e)
		}
		l.entries[l.head] = nil
		l.head++
		l.next, l.epoch = e.rec.Offset+1, e.rec.LeaderEpoch
		moved = true
	}
	// Reclaim the popped front once it is the larger half.
	if l.head > 64 && l.head*2 >= len(l.entries) {
		n := copy(l.entries, l.entries[l.head:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
		l.head = 0
	}
	return moved
}
