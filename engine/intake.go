package engine

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// poll takes records from Kafka into the ledgers and lanes until ctx ends.
func (e *Engine) poll(ctx context.Context) {
	for ctx.Err() == nil {
		// Memory bound: wait while the in-flight bytes are at the limit.
		e.mu.Lock()
		over := e.inflightBytes >= e.cfg.MaxInFlightBytes
		ch := e.changed
		e.mu.Unlock()
		if over {
			select {
			case <-ch:
			case <-ctx.Done():
			}
			continue
		}
		fetches := e.cl.PollRecords(ctx, 10000)
		if fetches.IsClientClosed() {
			e.cl.AllowRebalance()
			return
		}
		e.intake(fetches)
		e.cl.AllowRebalance()
	}
}

// intake logs the fetch errors of a poll and puts its records into the
// ledgers and lanes.
func (e *Engine) intake(fetches kgo.Fetches) {
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			e.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	now := time.Now()
	var toPause []*partState
	e.mu.Lock()
	share := e.shareLocked()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if ps := e.parts[tp{p.Topic, p.Partition}]; ps != nil && p.HighWatermark > ps.hwm {
			ps.hwm = p.HighWatermark
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		ps := e.parts[tp{r.Topic, r.Partition}]
		if ps == nil || ps.revoking || ps.dropped || r.Offset <= ps.lastOffset {
			return
		}
		ps.lastOffset = r.Offset
		e.seq++
		en := &entry{seq: e.seq, rec: r, ps: ps, size: recordSize(r), taken: now}
		if c := e.carry[ps.tp]; c != nil {
			if f, ok := c[r.Offset]; ok {
				en.failures = f // counted before an exactly-once rewind
				delete(c, r.Offset)
			}
		}
		ps.led.push(en)
		ps.bytes += en.size
		e.inflightBytes += en.size
		e.inflightRecords++
		lk := e.laneKeyOf(r)
		ln := ps.lanes[lk]
		if ln == nil {
			ln = &lane{key: lk, ps: ps}
			ps.lanes[lk] = ln
		}
		en.ln = ln
		ln.q = append(ln.q, en)
		e.readyLocked(ln)
		e.shares.add(ps.tp.topic, en.size)
		if !ps.paused && ps.bytes > share {
			ps.paused = true
			toPause = append(toPause, ps)
		}
		toPause = append(toPause, e.pauseClassLocked(ps.tp.topic)...)
	})
	e.signalLocked()
	e.mu.Unlock()
	e.syncPaused(true, toPause)
}

// syncPaused applies the pause state of parts, which the memory bound just
// paused (or resumed), to the client and reports each to the hooks.
func (e *Engine) syncPaused(paused bool, parts []*partState) {
	if len(parts) == 0 {
		return
	}
	e.syncPartitions(parts...)
	for _, ps := range parts {
		e.hooks.partitionPaused(PartitionPaused{Topic: ps.tp.topic, Partition: ps.tp.partition, Paused: paused})
	}
}

// syncPartitions applies the current pause state of parts to the client:
// paused for the memory bound, resumed otherwise (also once dropped).
func (e *Engine) syncPartitions(parts ...*partState) {
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	pause, resume := map[string][]int32{}, map[string][]int32{}
	e.mu.Lock()
	for _, ps := range parts {
		if ps.paused && !ps.dropped {
			pause[ps.tp.topic] = append(pause[ps.tp.topic], ps.tp.partition)
		} else {
			resume[ps.tp.topic] = append(resume[ps.tp.topic], ps.tp.partition)
		}
	}
	e.mu.Unlock()
	if len(pause) > 0 {
		e.cl.PauseFetchPartitions(pause)
	}
	if len(resume) > 0 {
		e.cl.ResumeFetchPartitions(resume)
	}
}

// syncTopics applies the breaker's current state to the client: every
// input topic paused while it is open or probing, resumed when closed.
func (e *Engine) syncTopics() {
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	e.mu.Lock()
	want := e.br.state != breakerClosed
	e.mu.Unlock()
	if want == e.topicsPaused {
		return
	}
	if want {
		e.cl.PauseFetchTopics(e.cfg.Topics...)
	} else {
		e.cl.ResumeFetchTopics(e.cfg.Topics...)
	}
	e.topicsPaused = want
}
