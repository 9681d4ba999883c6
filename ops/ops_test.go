package ops

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func offsets(topic string, byPartition map[int32]int64) kadm.ListedOffsets {
	lo := kadm.ListedOffsets{topic: {}}
	for p, o := range byPartition {
		lo[topic][p] = kadm.ListedOffset{Topic: topic, Partition: p, Offset: o}
	}
	return lo
}

func TestHotByRateAndByRecords(t *testing.T) {
	zero := offsets("t", map[int32]int64{0: 0, 1: 0, 2: 0})
	// Arrivals: 100 on partition 0, 5 on the others, in one second.
	first := sample{starts: zero, ends: offsets("t", map[int32]int64{0: 0, 1: 0, 2: 0})}
	second := sample{starts: zero, ends: offsets("t", map[int32]int64{0: 100, 1: 5, 2: 5})}
	h := hot(first, second, 10, 1)
	if len(h) != 1 || h[0].Partition != 0 || !strings.Contains(h[0].Reason, "arrival rate") {
		t.Fatalf("by rate: %+v", h)
	}
	// 9× is not hot.
	second.ends = offsets("t", map[int32]int64{0: 45, 1: 5, 2: 5})
	if h := hot(first, second, 10, 1); len(h) != 0 {
		t.Fatalf("9× flagged: %+v", h)
	}
	// One busy partition among idle ones: hot only from 10 records per interval.
	second.ends = offsets("t", map[int32]int64{0: 9, 1: 0, 2: 0})
	if h := hot(first, second, 10, 1); len(h) != 0 {
		t.Fatalf("9 records against idle partitions flagged: %+v", h)
	}
	// Nothing arrives: compare record counts.
	still := offsets("t", map[int32]int64{0: 100, 1: 10, 2: 10})
	h = hot(sample{starts: zero, ends: still}, sample{starts: zero, ends: still}, 10, 1)
	if len(h) != 1 || h[0].Partition != 0 || h[0].MedianRec != 10 {
		t.Fatalf("by records: %+v", h)
	}
}

func TestGroupTrendAndDrain(t *testing.T) {
	lag := func(commit, end int64) kadm.DescribedGroupLags {
		return kadm.DescribedGroupLags{"g": {Group: "g", State: "Stable", Lag: kadm.GroupLag{"t": {0: {
			Topic: "t", Partition: 0, Commit: kadm.Offset{At: commit}, End: kadm.ListedOffset{Offset: end}, Lag: end - commit,
		}}}}}
	}
	gs := groups(sample{lags: lag(0, 100)}, sample{lags: lag(50, 110)}, []string{"t"}, 1)
	if len(gs) != 1 {
		t.Fatalf("%+v", gs)
	}
	g := gs[0]
	if g.Trend != "shrinking" || g.ConsumeRate != 50 || g.ArrivalRate != 10 || g.Lag != 60 || g.DrainSeconds != 1.5 {
		t.Fatalf("%+v", g)
	}
	gs = groups(sample{lags: lag(0, 100)}, sample{lags: lag(10, 200)}, []string{"t"}, 1)
	if gs[0].Trend != "growing" || gs[0].DrainSeconds != -1 {
		t.Fatalf("%+v", gs[0])
	}
	// A group on other topics is not shown.
	if gs := groups(sample{lags: lag(0, 1)}, sample{lags: lag(0, 1)}, []string{"other"}, 1); len(gs) != 0 {
		t.Fatalf("%+v", gs)
	}
}

func TestAttention(t *testing.T) {
	rep := Report{DLQ: DLQDepth{Total: 2}, LogDirs: []LogDir{{Broker: 1, Dir: "/d", UsedRatio: 0.9}, {Broker: 2, Dir: "/e", UsedRatio: -1}}}
	attention(&rep, 0.85)
	if len(rep.NeedsAttention) != 2 {
		t.Fatalf("%q", rep.NeedsAttention)
	}
}
