package engine

import (
	"fmt"
	"slices"
)

// MaxTopicWeight bounds a weight of Config.TopicWeights.
const MaxTopicWeight = 1000

// strideUnit is the virtual time one record costs a class of weight 1; a
// class of weight w pays strideUnit/w per record. It is divisible by every
// weight up to 16, so that the usual weights share without rounding.
const strideUnit = 720720 * 1024

// prioClass is one priority class of ready lanes: the lanes of one input
// topic (or, without weights, of all of them), oldest head record first.
type prioClass struct {
	topic  string
	weight int
	stride uint64 // virtual time per record dispatched
	pass   uint64 // virtual time at which the class is next served
	h      laneHeap
}

// scheduler chooses the class to dispatch from by weighted fair queueing
// counted in records (stride scheduling): the class with a ready lane and
// the smallest pass is served, and each record taken from it advances its
// pass by its stride. With a backlog in every class, class i gets
// weight_i/Σweight of the records dispatched; a class with nothing ready
// is skipped (the scheduler is work-conserving), and a class that becomes
// ready again starts at the current virtual time, so it gains no credit
// from its idle time and cannot lock the others out. Every class with a
// ready lane is served again within about Σweight/weight records (a lane's
// run of up to BatchMaxRecords is charged whole, and the other classes
// catch up after it): low never starves.
// Guarded by Engine.mu.
type scheduler struct {
	weighted bool
	classes  []*prioClass
	byTopic  map[string]*prioClass
	vt       uint64 // the pass of the class served last
}

func newScheduler(weights map[string]int) scheduler {
	s := scheduler{weighted: len(weights) > 0, byTopic: map[string]*prioClass{}}
	topics := make([]string, 0, len(weights))
	for t := range weights {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		s.add(t, weights[t])
	}
	if !s.weighted {
		s.add("", 1)
	}
	return s
}

func (s *scheduler) add(topic string, weight int) *prioClass {
	c := &prioClass{topic: topic, weight: weight, stride: strideUnit / uint64(weight), pass: s.vt}
	s.classes = append(s.classes, c)
	s.byTopic[topic] = c
	return c
}

// classOf is the class of topic's lanes; a topic without a weight is a
// class of weight 1.
func (s *scheduler) classOf(topic string) *prioClass {
	if !s.weighted {
		return s.classes[0]
	}
	if c := s.byTopic[topic]; c != nil {
		return c
	}
	return s.add(topic, 1)
}

// wake is called when c, empty, gets a ready lane: an idle class rejoins
// at the current virtual time.
func (s *scheduler) wake(c *prioClass) { c.pass = max(c.pass, s.vt) }

// next is the non-empty class to serve: the smallest pass, ties to the
// oldest head record. At least one class must have a ready lane.
func (s *scheduler) next() *prioClass {
	var best *prioClass
	for _, c := range s.classes {
		if len(c.h) == 0 {
			continue
		}
		if best == nil || c.pass < best.pass || c.pass == best.pass && c.h[0].headSeq() < best.h[0].headSeq() {
			best = c
		}
	}
	s.vt = best.pass
	return best
}

// charge advances c's pass for n records dispatched from it.
func (s *scheduler) charge(c *prioClass, n int) { c.pass += uint64(n) * c.stride }

// validateWeights checks Config.TopicWeights against the input topics.
func validateWeights(weights map[string]int, topics []string) []error {
	var errs []error
	for t, w := range weights {
		if !slices.Contains(topics, t) {
			errs = append(errs, fmt.Errorf("topic weight for %q, which is not an input topic", t))
		}
		if w < 1 || w > MaxTopicWeight {
			errs = append(errs, fmt.Errorf("topic weight of %q must be in [1, %d], got %d", t, MaxTopicWeight, w))
		}
	}
	return errs
}

// classShares is the memory bound's share of each priority class: with
// Config.TopicWeights, each input topic's buffered bytes are held to
// MaxInFlightBytes/len(Topics), so that a backlog in one class never fills
// the bound and the other classes' records still come in. (The
// partitions' own shares overlap when there are many partitions, each
// being at least 256 KiB, and a partition may take one fetch beyond its
// share before it pauses: without a class share a low-priority backlog
// can hold the whole bound.) Nil without weights. Guarded by Engine.mu.
type classShares struct {
	budget int64
	bytes  map[string]int64
	paused map[string]bool // the class's partitions were paused for its share
}

func newClassShares(cfg *Config) *classShares {
	if len(cfg.TopicWeights) == 0 {
		return nil
	}
	return &classShares{
		budget: max(cfg.MaxInFlightBytes/int64(len(cfg.Topics)), 1),
		bytes:  map[string]int64{},
		paused: map[string]bool{},
	}
}

func (c *classShares) add(topic string, n int64) {
	if c != nil {
		c.bytes[topic] += n
	}
}

// over says topic's class holds more than its share.
func (c *classShares) over(topic string) bool { return c != nil && c.bytes[topic] > c.budget }

// drained says topic's class is below half its share (where its
// partitions may resume).
func (c *classShares) drained(topic string) bool { return c == nil || c.bytes[topic] <= c.budget/2 }

// pauseClassLocked pauses every partition of topic that is not paused yet,
// when its class goes over its share, and returns them.
func (e *Engine) pauseClassLocked(topic string) []*partState {
	if e.shares == nil || e.shares.paused[topic] || !e.shares.over(topic) {
		return nil
	}
	e.shares.paused[topic] = true
	var out []*partState
	for _, ps := range e.parts {
		if ps.tp.topic == topic && !ps.paused && !ps.dropped {
			ps.paused = true
			out = append(out, ps)
		}
	}
	return out
}

// resumeClassLocked resumes the partitions of topic that are below half
// their own share, once its class drained below half its share, and
// returns them.
func (e *Engine) resumeClassLocked(topic string) []*partState {
	if e.shares == nil || !e.shares.paused[topic] || !e.shares.drained(topic) {
		return nil
	}
	e.shares.paused[topic] = false
	share := e.shareLocked()
	var out []*partState
	for _, ps := range e.parts {
		if ps.tp.topic == topic && ps.paused && !ps.dropped && ps.bytes <= share/2 {
			ps.paused = false
			out = append(out, ps)
		}
	}
	return out
}

// resumeClasses resumes the partitions of every class paused for its share
// that has drained: after a drop (revoke, loss, abort) or a settled batch
// released bytes that no completion of the class will recheck — its
// records may all be gone from this member.
func (e *Engine) resumeClasses() {
	if e.shares == nil {
		return
	}
	var resume []*partState
	e.mu.Lock()
	for topic, paused := range e.shares.paused {
		if paused {
			resume = append(resume, e.resumeClassLocked(topic)...)
		}
	}
	e.mu.Unlock()
	e.syncPaused(false, resume)
}

// pauseAssignedLocked pauses the newly assigned parts whose class is paused
// for its share, so that they do not take it over its share; it returns
// them for syncPartitions.
func (e *Engine) pauseAssignedLocked(parts []*partState) []*partState {
	if e.shares == nil {
		return nil
	}
	var out []*partState
	for _, ps := range parts {
		if e.shares.paused[ps.tp.topic] && !ps.paused {
			ps.paused = true
			out = append(out, ps)
		}
	}
	return out
}
