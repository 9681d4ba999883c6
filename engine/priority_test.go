package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceClass writes n records per key for keys <prefix>0..<prefix>(keys-1)
// of topic, interleaved, with value "<key>:<seq>[:pad]".
func (h *harness) produceClass(topic, prefix string, keys, n int, pad string) {
	h.t.Helper()
	var recs []*kgo.Record
	for i := range n {
		for k := range keys {
			key := fmt.Sprintf("%s%d", prefix, k)
			v := fmt.Sprintf("%s:%d", key, i)
			if pad != "" {
				v += ":" + pad
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(v)})
		}
	}
	if err := h.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// completions records, in handler-return order, the values of the records
// a handler finished, after a fixed cost per batch.
type completions struct {
	mu   sync.Mutex
	vals []string
}

func (c *completions) handler(out string, cost time.Duration) Handler {
	return func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		select {
		case <-time.After(cost):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		res := make([]Result, len(batch))
		c.mu.Lock()
		for i, r := range batch {
			v := string(r.Value)
			if j := strings.IndexByte(v, ':'); j >= 0 {
				if k := strings.IndexByte(v[j+1:], ':'); k >= 0 {
					v = v[:j+1+k] // drop the padding
				}
			}
			c.vals = append(c.vals, v)
			res[i].Outputs = []*kgo.Record{{Topic: out, Key: r.Key, Value: []byte(v)}}
		}
		c.mu.Unlock()
		return res, nil
	}
}

func (c *completions) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.vals...)
}

func (c *completions) count(prefix string) int {
	n := 0
	for _, v := range c.snapshot() {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

// A backlog in three topics weighted 8:3:1 before the engine starts: with
// a fixed cost per batch, the high topic finishes before the last normal
// and low record, normal before low, low keeps a share while high still
// has a backlog, and every key keeps its order.
func TestPriorityWeightsDrainHighFirstAndLowProgresses(t *testing.T) {
	h := newHarness(t, 2, "hi", "mid", "lo", "out")
	const keys, n = 10, 30 // 300 records per topic
	h.produceClass("hi", "h", keys, n, "")
	h.produceClass("mid", "m", keys, n, "")
	h.produceClass("lo", "l", keys, n, "")
	var c completions
	weights := map[string]int{"hi": 8, "mid": 3, "lo": 1}
	_, e := runEngine(t, Config{
		Group: "g", Topics: []string{"hi", "mid", "lo"}, TopicWeights: weights,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler:    c.handler("out", 2*time.Millisecond), BatchMaxRecords: 4,
		MaxInFlightBatches: 2, MinInFlightBatches: 2,
	})
	waitDone(t, e, 3*keys*n)
	vals := c.snapshot()
	last := map[byte]int{}
	next := map[string]int{}
	seen := map[string]bool{}
	var order []byte // class of each first completion
	for _, v := range vals {
		if seen[v] {
			continue
		}
		seen[v] = true
		key, seq := parseVal(t, v)
		if seq != next[key] {
			t.Fatalf("key %s: completed seq %d, want %d (order broken)", key, seq, next[key])
		}
		next[key]++
		last[v[0]] = len(order)
		order = append(order, v[0])
	}
	if len(order) != 3*keys*n {
		t.Fatalf("%d distinct records completed, want %d", len(order), 3*keys*n)
	}
	t.Logf("position of the last record: high %d, normal %d, low %d of %d", last['h'], last['m'], last['l'], len(order))
	if last['h'] > last['m'] || last['h'] > last['l'] {
		t.Errorf("high finished at %d, after the last normal (%d) or low (%d) record", last['h'], last['m'], last['l'])
	}
	if last['m'] > last['l'] {
		t.Errorf("normal finished at %d, after the last low record (%d)", last['m'], last['l'])
	}
	// While high still has a backlog (the first half of what completed
	// up to its last record), low gets at least a third of its weight
	// share (1/12), and high at least half of its own (8/12).
	half := order[:last['h']/2]
	count := map[byte]int{}
	for _, k := range half {
		count[k]++
	}
	lowShare, highShare := float64(count['l'])/float64(len(half)), float64(count['h'])/float64(len(half))
	t.Logf("first %d completions: high %d (%.3f), normal %d, low %d (%.3f)", len(half), count['h'], highShare, count['m'], count['l'], lowShare)
	if want := 1.0 / 12 / 3; lowShare < want {
		t.Errorf("low share %.3f while high had a backlog, want at least %.3f", lowShare, want)
	}
	if want := 8.0 / 12 / 2; highShare < want {
		t.Errorf("high share %.3f while every class had a backlog, want at least %.3f", highShare, want)
	}
}

// A low-priority backlog larger than the in-flight bound cannot take the
// whole bound: high records produced after it are taken in and finish
// while most of the low backlog still waits. With many partitions, the
// partitions' shares of the bound overlap (each is at least 256 KiB) and
// one fetch more than a share may arrive before a partition pauses; the
// low topic's share as a whole is what keeps room for high.
func TestLowBacklogLeavesRoomForHigh(t *testing.T) {
	for _, partitions := range []int32{1, 12} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) {
			testLowBacklogLeavesRoomForHigh(t, partitions)
		})
	}
}

func testLowBacklogLeavesRoomForHigh(t *testing.T, partitions int32) {
	h := newHarness(t, partitions, "hi", "lo", "out")
	pad := strings.Repeat("x", 4<<10)
	const lowN, highN = 2000, 40 // 8 MiB of low records against a 512 KiB bound
	for i := 0; i < lowN; i += 50 {
		h.produceClass("lo", fmt.Sprintf("l%d-", i), 50, 1, pad)
	}
	var c completions
	const bound = 512 << 10
	_, e := runEngine(t, Config{
		Group: "g", Topics: []string{"hi", "lo"}, TopicWeights: map[string]int{"hi": 8, "lo": 1},
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler:    c.handler("out", 5*time.Millisecond), BatchMaxRecords: 4, MaxInFlightBytes: bound,
		MaxInFlightBatches: 2, MinInFlightBatches: 2,
	})
	// Wait until low fills what it may of the bound.
	for deadline := time.Now().Add(10 * time.Second); c.count("l") == 0 || e.Stats().PausedParts == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the low partitions were never paused at their share")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	lowBefore := c.count("l")
	inflight := e.Stats().InFlightBytes
	h.produceClass("hi", "h", 4, highN/4, pad)
	for deadline := time.Now().Add(30 * time.Second); c.count("h") < highN; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d high records finished behind the low backlog", c.count("h"), highN)
		}
		time.Sleep(5 * time.Millisecond)
	}
	low := c.count("l") - lowBefore
	t.Logf("low in flight when high arrived: %d bytes (bound %d); %d low records finished between the high records' arrival and the last high one", inflight, bound, low)
	// The low records already taken when high arrives: at most what fits
	// in the bound (4 KiB each).
	if most := bound / (4 << 10); low > most {
		t.Errorf("%d low records finished before the last high one, want at most %d (the bound's worth)", low, most)
	}
	waitDone(t, e, lowN+highN)
}

// The scheduler alone: with every class backlogged, the records taken
// follow the weights exactly over a cycle; a class that was idle rejoins
// at the current virtual time instead of claiming what it missed; and
// without weights there is one class.
func TestSchedulerSharesByWeight(t *testing.T) {
	q := newLaneQueue(map[string]int{"hi": 8, "mid": 3, "lo": 1})
	var seq uint64
	lanes := map[string]*lane{}
	for _, tp := range []string{"hi", "mid", "lo"} {
		ln := &lane{ps: &partState{tp: tp2(tp)}}
		for range 1000 {
			seq++
			ln.q = append(ln.q, &entry{seq: seq})
		}
		lanes[tp] = ln
		q.push(ln)
	}
	take := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			ln := q.pop()
			got[ln.ps.tp.topic]++
			ln.q = ln.q[1:]
			q.charge(ln, 1)
			q.push(ln)
		}
		return got
	}
	if got := take(120); got["hi"] != 80 || got["mid"] != 30 || got["lo"] != 10 {
		t.Fatalf("120 records taken as %v, want hi 80, mid 30, lo 10", got)
	}
	// Every window of 12 serves low once: it never waits longer.
	for i := range 10 {
		if got := take(12); got["lo"] != 1 {
			t.Fatalf("window %d: %v, want one low record in every 12", i, got)
		}
	}
	// hi goes idle while the others run 400 records, then comes back: it
	// gets its share again, not 400 records of catching up.
	hi := lanes["hi"]
	q.filter(func(ln *lane) bool { return ln != hi })
	if got := take(400); got["hi"] != 0 || got["mid"] != 300 || got["lo"] != 100 {
		t.Fatalf("without hi: %v, want mid 300, lo 100", got)
	}
	hi.queued = true
	q.push(hi)
	if got := take(24); got["hi"] > 17 || got["mid"] < 4 || got["lo"] < 1 {
		t.Fatalf("hi back: %v, want about hi 16, mid 6, lo 2 (no burst)", got)
	}
	// No weights: one class, oldest head first across topics.
	q = newLaneQueue(nil)
	a, b := &lane{ps: &partState{tp: tp2("a")}, q: []*entry{{seq: 2}}}, &lane{ps: &partState{tp: tp2("b")}, q: []*entry{{seq: 1}}}
	q.push(a)
	q.push(b)
	if first := q.pop(); first != b || len(q.sched.classes) != 1 {
		t.Fatalf("unweighted: popped %v first with %d classes, want the oldest head in one class", first.ps.tp, len(q.sched.classes))
	}
}

func tp2(topic string) tp { return tp{topic: topic} }

func TestTopicWeightsAreValidated(t *testing.T) {
	base := Config{Group: "g", Topics: []string{"hi", "lo"}, Handler: echo("out", 0, nil, nil)}
	for _, w := range []map[string]int{{"other": 2}, {"hi": 0}, {"lo": -1}, {"hi": MaxTopicWeight + 1}} {
		cfg := base
		cfg.TopicWeights = w
		cfg.setDefaults()
		if err := cfg.Validate(); err == nil {
			t.Errorf("weights %v: no error", w)
		}
	}
	cfg := base
	cfg.TopicWeights = map[string]int{"hi": 8}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Errorf("weights for one of two topics: %v", err)
	}
}

// Priority classes under rebalances and in exactly-once mode: members
// joining and leaving a weighted group lose nothing and keep every key's
// order; so does an exactly-once worker.
func TestWeightedTopicsKeepInvariants(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactlyOnce=%v", eos), func(t *testing.T) {
			h := newHarness(t, 3, "hi", "mid", "lo", "out")
			const keys, n = 10, 50
			h.produceClass("hi", "h", keys, n, "")
			h.produceClass("mid", "m", keys, n, "")
			h.produceClass("lo", "l", keys, n, "")
			var c completions
			cfg := Config{
				Group: "g", Topics: []string{"hi", "mid", "lo"}, TopicWeights: map[string]int{"hi": 8, "mid": 3, "lo": 1},
				ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
				Handler:    c.handler("out", 20*time.Millisecond), BatchMaxRecords: 4, MaxInFlightBatches: 2,
			}
			if eos {
				cfg.ExactlyOnce, cfg.TransactionalID = true, "t-1"
				cfg.TxnMaxRecords = 100
				cfg.Handler = c.handler("out", 2*time.Millisecond)
				_, e := runEngine(t, cfg)
				waitDone(t, e, 3*keys*n)
			} else {
				stop1, e1 := runEngine(t, cfg)
				waitDone(t, e1, 100)
				_, e2 := runEngine(t, cfg) // joins: partitions move to it
				waitDone(t, e2, 20)
				if err := stop1(); err != nil { // leaves: its partitions move on
					t.Fatal(err)
				}
			}
			recs := h.consumeAll("out", 3*keys*n, 30*time.Second)
			next := map[string]int{}
			seen := map[string]bool{}
			for _, r := range recs {
				if seen[string(r.Value)] {
					continue // redone in-flight work after a rebalance
				}
				seen[string(r.Value)] = true
				key, seq := parseVal(t, string(r.Value))
				if seq != next[key] {
					t.Fatalf("key %s: output %d first appeared before %d", key, seq, next[key])
				}
				next[key]++
			}
			if len(seen) != 3*keys*n {
				t.Fatalf("%d of %d outputs", len(seen), 3*keys*n)
			}
		})
	}
}

// A class paused for its share resumes when its records leave with a
// dropped partition (a cooperative revoke, a loss, an exactly-once
// rewind): no completion of the class is left to recheck it, and its
// other partitions would stay paused for good. A partition assigned while
// its class is paused starts paused.
func TestDroppedPartitionResumesItsClass(t *testing.T) {
	h := newHarness(t, 2, "hi", "lo")
	e, err := New(Config{
		Group: "g", Topics: []string{"hi", "lo"}, TopicWeights: map[string]int{"hi": 8, "lo": 1},
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)}, MaxInFlightBytes: 1 << 20, Logger: testLogger(),
		Handler: func(context.Context, []*kgo.Record) ([]Result, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e.cl = cl
	lo0, lo1 := newPartState(tp{"lo", 0}), newPartState(tp{"lo", 1})
	e.mu.Lock()
	e.parts[lo0.tp], e.parts[lo1.tp] = lo0, lo1
	ln := &lane{key: laneKey{key: "k"}, ps: lo0}
	lo0.lanes[ln.key] = ln
	for i := 0; !e.shares.over("lo"); i++ {
		en := &entry{seq: uint64(i + 1), rec: &kgo.Record{Topic: "lo", Offset: int64(i)}, ps: lo0, ln: ln, size: 64 << 10}
		lo0.led.push(en)
		ln.q = append(ln.q, en)
		lo0.bytes += en.size
		e.inflightBytes += en.size
		e.inflightRecords++
		e.shares.add("lo", en.size)
	}
	paused := e.pauseClassLocked("lo")
	e.mu.Unlock()
	if len(paused) != 2 || !lo1.paused {
		t.Fatalf("the class over its share paused %d partition(s), want both", len(paused))
	}

	// A partition of the paused class assigned now starts paused.
	e.onAssigned(context.Background(), cl, map[string][]int32{"lo": {2}})
	e.mu.Lock()
	lo2 := e.parts[tp{"lo", 2}]
	e.mu.Unlock()
	if lo2 == nil || !lo2.paused {
		t.Fatal("a partition assigned while its class is paused was not paused")
	}

	e.drop([]*partState{lo0})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shares.bytes["lo"] != 0 {
		t.Fatalf("class lo still counts %d bytes after its partition was dropped", e.shares.bytes["lo"])
	}
	if e.shares.paused["lo"] || lo1.paused || lo2.paused {
		t.Fatalf("class lo paused=%v, lo/1 paused=%v, lo/2 paused=%v after its buffered records were dropped; want all resumed",
			e.shares.paused["lo"], lo1.paused, lo2.paused)
	}
}
