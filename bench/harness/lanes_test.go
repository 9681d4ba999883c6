package main

import (
	"testing"
	"time"
)

// Every scenario lands in exactly one lane, in run order within it; the
// bare pipe stays right after the engine-bound run; the lanes' estimated
// times are within the longest scenario of each other.
func TestAssignLanes(t *testing.T) {
	ps := pick(scenarios(scale{quick: true}), nil)
	for _, n := range []int{1, 2, 3} {
		lanes := assignLanes(ps, n)
		if len(lanes) != n {
			t.Fatalf("%d lanes, want %d", len(lanes), n)
		}
		seen := map[int]bool{}
		var longest, lo, hi time.Duration
		lo = 1 << 62
		for _, lane := range lanes {
			var d time.Duration
			for i, p := range lane {
				if seen[p.index] {
					t.Fatalf("%s in two lanes", p.sc.Name)
				}
				seen[p.index] = true
				if i > 0 && lane[i-1].index >= p.index {
					t.Fatalf("lane out of run order at %s", p.sc.Name)
				}
				if p.sc.Name == "pipe" && (i == 0 || lane[i-1].sc.Name != "engine-bound") {
					t.Fatalf("n=%d: the pipe does not follow the engine-bound run", n)
				}
				d += estimate(p.sc)
				longest = max(longest, estimate(p.sc))
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if len(seen) != len(ps) {
			t.Fatalf("n=%d: %d of %d scenarios assigned", n, len(seen), len(ps))
		}
		if hi-lo > longest {
			t.Fatalf("n=%d: lanes of %v to %v (longest scenario %v)", n, lo, hi, longest)
		}
	}
	if got := pick(scenarios(scale{}), []string{"pipe", "gpu-bound"}); len(got) != 2 || got[0].sc.Name != "gpu-bound" {
		t.Fatalf("pick: %+v", got)
	}
}
