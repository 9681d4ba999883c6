package engine

import "container/heap"

// laneQueue holds the lanes ready for dispatch. Lanes are grouped in
// priority classes, one per input topic with weights (Config.TopicWeights;
// a topic it does not list is a class of weight 1; with no weights, one
// class in all), and
// classes are served by weighted fair queueing counted in records (see
// priority.go). Within a class, lanes are served oldest head record
// first: dispatching the oldest waiting record first keeps each
// partition's done records close to its commit watermark, so what a crash
// makes the group redo stays near the records in flight instead of
// growing with the number of keys.
type laneQueue struct {
	sched scheduler
	n     int
}

func newLaneQueue(weights map[string]int) laneQueue {
	return laneQueue{sched: newScheduler(weights)}
}

func (q *laneQueue) len() int { return q.n }

// push queues ln in its class.
func (q *laneQueue) push(ln *lane) {
	c := q.sched.classOf(ln.ps.tp.topic)
	if len(c.h) == 0 {
		q.sched.wake(c)
	}
	heap.Push(&c.h, ln)
	q.n++
}

// pop takes the oldest lane of the class whose turn it is. The caller
// charges the records it takes from the lane with charge.
func (q *laneQueue) pop() *lane {
	c := q.sched.next()
	q.n--
	return heap.Pop(&c.h).(*lane)
}

// charge counts n records dispatched from ln's class.
func (q *laneQueue) charge(ln *lane, n int) { q.sched.charge(q.sched.classOf(ln.ps.tp.topic), n) }

// removeAt takes the i-th queued lane (0 ≤ i < len) in no particular
// order, whatever its class: for the breaker's random probe.
func (q *laneQueue) removeAt(i int) *lane {
	for _, c := range q.sched.classes {
		if i < len(c.h) {
			q.n--
			return heap.Remove(&c.h, i).(*lane)
		}
		i -= len(c.h)
	}
	panic("engine: laneQueue.removeAt out of range")
}

// filter keeps the queued lanes for which keep is true and restores each
// class's order; the others are no longer queued.
func (q *laneQueue) filter(keep func(*lane) bool) {
	q.n = 0
	for _, c := range q.sched.classes {
		kept := c.h[:0]
		for _, ln := range c.h {
			if !keep(ln) {
				ln.queued = false
				continue
			}
			kept = append(kept, ln)
		}
		clear(c.h[len(kept):])
		c.h = kept
		heap.Init(&c.h)
		q.n += len(kept)
	}
}

type laneHeap []*lane

func (h laneHeap) Len() int { return len(h) }
func (h laneHeap) Less(i, j int) bool {
	return h[i].headSeq() < h[j].headSeq()
}
func (h laneHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *laneHeap) Push(x any)   { *h = append(*h, x.(*lane)) }
func (h *laneHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// headSeq is the intake sequence of the lane's first waiting record. A
// lane is in the queue only while it has one, and its head changes only
// while it is out of the queue.
func (ln *lane) headSeq() uint64 {
	if len(ln.q) == 0 {
		return ^uint64(0)
	}
	return ln.q[0].seq
}
