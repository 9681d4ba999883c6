package main

import (
	"cmp"
	"slices"
	"time"
)

// chunkID names one chunk of one document version.
type chunkID struct {
	Doc   string // tenant/doc
	Index int32
}

// inRecord is one record of documents.parsed as the harness produced it.
type inRecord struct {
	ID        chunkID
	Partition int32
	Offset    int64
	Time      time.Time
}

// outRecord is one record read back from an output topic (chunks.embedded,
// a baseline's output, or documents.dlq).
type outRecord struct {
	ID        chunkID
	Partition int32
	Offset    int64
	Time      time.Time
}

// verdict is what the checker finds in a run's output.
type verdict struct {
	Inputs       int // distinct input chunks
	Delivered    int // distinct input chunks found in the output
	Lost         int // input chunks in neither the output nor the DLQ, nor of a failed document
	Duplicates   int // output records beyond the first of their chunk
	OrderErrors  int // chunks whose first output came before their predecessor's
	DeadLettered int // records on the DLQ
	Skipped      int // chunks of documents reported failed, absent from the output (by design)
	LostSample   []chunkID
}

// check compares what was produced with what came out. Order is judged per
// document on first appearances, in the order the output partition holds
// them: a replay after a crash (0 1 2 1 2 3) is duplicates, not disorder,
// but 0 2 1 is a violation. failedDocs are documents the stage reported on
// documents.failed: their chunks after a dead-lettered one are skipped by
// design and are not counted lost.
func check(in []inRecord, out, dlq []outRecord, failedDocs map[string]bool) verdict {
	var v verdict
	want := make(map[chunkID]bool, len(in))
	for _, r := range in {
		want[r.ID] = true
	}
	v.Inputs = len(want)
	sorted := slices.Clone(out)
	slices.SortStableFunc(sorted, func(a, b outRecord) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	seen := make(map[chunkID]bool, len(out))
	highest := map[string]int32{} // highest first-seen index per document
	for _, r := range sorted {
		if seen[r.ID] {
			v.Duplicates++
			continue
		}
		seen[r.ID] = true
		if h, ok := highest[r.ID.Doc]; ok && r.ID.Index < h {
			v.OrderErrors++
		} else {
			highest[r.ID.Doc] = r.ID.Index
		}
		if want[r.ID] {
			v.Delivered++
		}
	}
	dead := make(map[chunkID]bool, len(dlq))
	for _, r := range dlq {
		dead[r.ID] = true
	}
	v.DeadLettered = len(dlq)
	for id := range want {
		switch {
		case seen[id] || dead[id]:
		case failedDocs[id.Doc]:
			v.Skipped++
		default:
			v.Lost++
			if len(v.LostSample) < 5 {
				v.LostSample = append(v.LostSample, id)
			}
		}
	}
	return v
}
