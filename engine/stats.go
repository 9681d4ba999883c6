package engine

import (
	"cmp"
	"slices"
	"time"
)

// PartitionStats describes one assigned partition.
type PartitionStats struct {
	Topic     string
	Partition int32
	// Watermark is the offset to commit next (-1 before any record is done).
	Watermark int64
	// HighWatermark is the partition's end offset as of the last fetch.
	HighWatermark int64
	// Lag is how many records are not yet done: end offset − watermark.
	Lag      int64
	Buffered int64 // bytes of records taken and not done
	Paused   bool
}

// Stats is a snapshot of the engine's state.
type Stats struct {
	InFlightRecords int
	InFlightBytes   int64
	Dispatched      int
	Partitions      int
	PausedParts     int
	OldestAge       time.Duration // age of the oldest record not yet done
	Done            int64         // records done since start
	Parts           []PartitionStats
}

// Stats returns a snapshot; safe to call at any time.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{InFlightRecords: e.inflightRecords, InFlightBytes: e.inflightBytes, Dispatched: e.dispatched,
		Partitions: len(e.parts), Done: e.done.Load()}
	now := time.Now()
	for _, ps := range e.parts {
		if ps.paused {
			s.PausedParts++
		}
		if en := ps.led.oldest(); en != nil {
			s.OldestAge = max(s.OldestAge, now.Sub(en.taken))
		}
		lag := int64(0)
		switch {
		case ps.led.next >= 0:
			lag = ps.hwm - ps.led.next
		case ps.led.oldest() != nil:
			lag = ps.hwm - ps.led.oldest().rec.Offset
		}
		s.Parts = append(s.Parts, PartitionStats{Topic: ps.tp.topic, Partition: ps.tp.partition, Watermark: ps.led.next,
			HighWatermark: ps.hwm, Lag: max(lag, 0), Buffered: ps.bytes, Paused: ps.paused})
	}
	slices.SortFunc(s.Parts, func(a, b PartitionStats) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return s
}
