package main

import (
	"testing"
	"time"
)

// clean returns a run of docs×chunks inputs whose outputs are all present,
// in order, once each, spread over two partitions.
func clean(docs, chunks int) ([]inRecord, []outRecord) {
	var in []inRecord
	var out []outRecord
	off := map[int32]int64{}
	t0 := time.Unix(1_700_000_000, 0)
	for d := range docs {
		p := int32(d % 2)
		for i := range chunks {
			id := chunkID{Doc: "t/doc-" + string(rune('a'+d)), Index: int32(i)}
			in = append(in, inRecord{ID: id, Partition: p, Offset: off[p], Time: t0})
			out = append(out, outRecord{ID: id, Partition: p, Offset: off[p], Time: t0.Add(time.Second)})
			off[p]++
		}
	}
	return in, out
}

func TestCheckClean(t *testing.T) {
	in, out := clean(4, 5)
	v := check(in, out, nil, nil)
	if v.Inputs != 20 || v.Delivered != 20 || v.Lost != 0 || v.Duplicates != 0 || v.OrderErrors != 0 {
		t.Fatalf("clean run: %+v", v)
	}
}

func TestCheckDetectsLostChunk(t *testing.T) {
	in, out := clean(4, 5)
	out = append(out[:7], out[8:]...) // plant a lost chunk
	v := check(in, out, nil, nil)
	if v.Lost != 1 || len(v.LostSample) != 1 || v.LostSample[0] != in[7].ID {
		t.Fatalf("planted lost chunk %v not found: %+v", in[7].ID, v)
	}
	// The same chunk on the DLQ is not lost, and neither is one of a failed document.
	if v := check(in, out, []outRecord{{ID: in[7].ID}}, nil); v.Lost != 0 || v.DeadLettered != 1 {
		t.Fatalf("dead-lettered chunk counted lost: %+v", v)
	}
	if v := check(in, out, nil, map[string]bool{in[7].ID.Doc: true}); v.Lost != 0 || v.Skipped != 1 {
		t.Fatalf("skipped chunk of a failed document counted lost: %+v", v)
	}
}

func TestCheckDetectsDuplicate(t *testing.T) {
	in, out := clean(4, 5)
	dup := out[3]
	dup.Offset = 1000 // a replay after a crash: later in the partition
	out = append(out, dup)
	v := check(in, out, nil, nil)
	if v.Duplicates != 1 || v.OrderErrors != 0 || v.Lost != 0 {
		t.Fatalf("planted duplicate: %+v", v)
	}
}

func TestCheckDetectsOrderingViolation(t *testing.T) {
	in, out := clean(4, 5)
	// Swap the offsets of chunks 1 and 2 of the first document.
	out[1].Offset, out[2].Offset = out[2].Offset, out[1].Offset
	v := check(in, out, nil, nil)
	if v.OrderErrors != 1 || v.Lost != 0 || v.Duplicates != 0 {
		t.Fatalf("planted ordering violation: %+v", v)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.P50 != 50*time.Millisecond || p.P95 != 95*time.Millisecond || p.P99 != 99*time.Millisecond {
		t.Fatalf("percentiles: %+v", p)
	}
}

func TestSteadyRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	var ts []time.Time
	// 10 s of start-up with 10 records, then 1000 records/s for 10 s.
	for i := range 10 {
		ts = append(ts, t0.Add(time.Duration(i)*time.Second))
	}
	for i := range 10000 {
		ts = append(ts, t0.Add(10*time.Second+time.Duration(i)*time.Millisecond))
	}
	r := steadyRate(ts)
	if r < 900 || r > 1100 {
		t.Fatalf("steady rate %.0f/s, want about 1000/s", r)
	}
}
