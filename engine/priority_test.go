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
// while most of the low backlog still waits.
func TestLowBacklogLeavesRoomForHigh(t *testing.T) {
	h := newHarness(t, 1, "hi", "lo", "out")
	pad := strings.Repeat("x", 4<<10)
	const lowN, highN = 1000, 40 // 4 MiB of low records against a 512 KiB bound
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
			t.Fatal("the low partition was never paused at its share")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.produceClass("hi", "h", 4, highN/4, pad)
	for deadline := time.Now().Add(30 * time.Second); c.count("h") < highN; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d high records finished behind the low backlog", c.count("h"), highN)
		}
		time.Sleep(5 * time.Millisecond)
	}
	low := c.count("l")
	t.Logf("all %d high records finished after %d of %d low records", highN, low, lowN)
	if low > lowN/2 {
		t.Errorf("high finished only after %d of %d low records", low, lowN)
	}
	waitDone(t, e, lowN+highN)
}
