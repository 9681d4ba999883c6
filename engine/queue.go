package engine

// laneQueue is a FIFO of lanes ready for dispatch.
type laneQueue struct {
	items []*lane
	head  int
}

func (q *laneQueue) len() int { return len(q.items) - q.head }

func (q *laneQueue) push(ln *lane) { q.items = append(q.items, ln) }

func (q *laneQueue) pushFront(ln *lane) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = ln
		return
	}
	q.items = append([]*lane{ln}, q.items...)
}

func (q *laneQueue) pop() *lane {
	ln := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return ln
}
