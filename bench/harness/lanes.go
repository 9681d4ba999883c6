package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// quickLanes is how many scenarios a quick run runs at once. A quick
// run's scenarios are mostly waiting (kills, joins, outages of a few
// seconds), so three of them share the 2 cores without slowing each other
// much; a full run stays at one lane, where measurements must not share
// the machine.
const quickLanes = 3

// picked is a scenario chosen to run, with its index in run order.
type picked struct {
	index int
	sc    scenario
}

// pick returns the scenarios named in want (all when want is empty), in
// run order.
func pick(all []scenario, want []string) []picked {
	var out []picked
	for i, sc := range all {
		if len(want) == 0 || slices.Contains(want, sc.Name) {
			out = append(out, picked{index: i, sc: sc})
		}
	}
	return out
}

// estimate is roughly how long a scenario takes, for balancing lanes.
func estimate(sc scenario) time.Duration {
	d := sc.Expected
	if sc.Cap > 0 && sc.Cap < d {
		d = sc.Cap
	}
	return d + 2*time.Second // processes, group joins, reading back
}

// assignLanes splits the scenarios into n lanes of about equal estimated
// time, each lane in run order. The bare pipe stays right after the
// engine-bound run, in its lane: the ceiling they combine into needs the
// same load.
func assignLanes(ps []picked, n int) [][]picked {
	var chains [][]picked
	for _, p := range ps {
		if p.sc.Name == "pipe" && len(chains) > 0 {
			if last := chains[len(chains)-1]; last[len(last)-1].sc.Name == "engine-bound" {
				chains[len(chains)-1] = append(last, p)
				continue
			}
		}
		chains = append(chains, []picked{p})
	}
	// Longest chains first, each to the least loaded lane.
	order := make([]int, len(chains))
	for i := range order {
		order[i] = i
	}
	cost := func(c []picked) time.Duration {
		var d time.Duration
		for _, p := range c {
			d += estimate(p.sc)
		}
		return d
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(cost(chains[b]) - cost(chains[a])) })
	lanes := make([][]picked, n)
	load := make([]time.Duration, n)
	for _, ci := range order {
		l := 0
		for j := range n {
			if load[j] < load[l] {
				l = j
			}
		}
		lanes[l] = append(lanes[l], chains[ci]...)
		load[l] += cost(chains[ci])
	}
	for _, lane := range lanes {
		slices.SortStableFunc(lane, func(a, b picked) int { return a.index - b.index })
	}
	return lanes
}

// startClusters starts n Kafka clusters at once (one per lane), with the
// pipeline's topics.
func startClusters(ctx context.Context, repo string, n int) ([]*cluster, error) {
	type started struct {
		k   *cluster
		err error
	}
	ch := make(chan started, n)
	for range n {
		go func() {
			k, err := startKafka(ctx, repo)
			if err == nil {
				if err = k.ensureTopics(ctx, benchPartitions); err != nil {
					k.stop()
					k = nil
				}
			}
			ch <- started{k, err}
		}()
	}
	var (
		out   []*cluster
		first error
	)
	for range n {
		s := <-ch
		if s.err != nil {
			if first == nil {
				first = fmt.Errorf("starting Kafka: %w", s.err)
			}
			continue
		}
		out = append(out, s.k)
	}
	return out, first
}
