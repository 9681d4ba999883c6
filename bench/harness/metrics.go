package main

import (
	"slices"
	"time"
)

// latency holds percentiles of a latency distribution.
type latency struct {
	P50, P95, P99, Max time.Duration
}

// percentiles returns the nearest-rank percentiles of d (which it sorts).
func percentiles(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.5) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: d[len(d)-1]}
}

// steadyRate is the rate, per second, of the timestamps between the 10th
// and the 90th percentile of their count: start-up and the tail are left
// out. ts need not be sorted (it is sorted in place).
func steadyRate(ts []time.Time) float64 {
	if len(ts) < 20 {
		return 0
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	lo, hi := len(ts)/10, len(ts)*9/10
	span := ts[hi].Sub(ts[lo])
	if span <= 0 {
		return 0
	}
	return float64(hi-lo) / span.Seconds()
}

// timeline counts ts per bucket from start: the throughput over time.
func timeline(ts []time.Time, start time.Time, bucket time.Duration) []float64 {
	var out []float64
	for _, t := range ts {
		i := int(t.Sub(start) / bucket)
		if i < 0 {
			continue
		}
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	for i := range out {
		out[i] /= bucket.Seconds()
	}
	return out
}

// longestGap is the longest time between consecutive sorted timestamps
// (after the first): the longest stall of the output.
func longestGap(sorted []time.Time) time.Duration {
	var g time.Duration
	for i := 1; i < len(sorted); i++ {
		g = max(g, sorted[i].Sub(sorted[i-1]))
	}
	return g
}
