package engine

import "container/heap"

// laneQueue holds the lanes ready for dispatch, oldest head record first.
// Dispatching the oldest waiting record first keeps each partition's done
// records close to its commit watermark, so what a crash makes the group
// redo stays near the records in flight instead of growing with the number
// of keys.
type laneQueue struct{ h laneHeap }

func (q *laneQueue) len() int      { return len(q.h) }
func (q *laneQueue) push(ln *lane) { heap.Push(&q.h, ln) }
func (q *laneQueue) pop() *lane    { return heap.Pop(&q.h).(*lane) }

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
