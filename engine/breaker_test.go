package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/fault"
)

type recordingObserver struct {
	mu     sync.Mutex
	states []string
	limits []int
}

func (o *recordingObserver) OnBreakerChanged(s string) {
	o.mu.Lock()
	o.states = append(o.states, s)
	o.mu.Unlock()
}

func (o *recordingObserver) OnConcurrencyLimit(n int) {
	o.mu.Lock()
	o.limits = append(o.limits, n)
	o.mu.Unlock()
}

// A persistent outage opens the breaker (intake pauses, nothing is sent
// but single-record probes), no record counts an attempt, and when the
// server returns the breaker closes and every record goes through.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	h.produce("in", 10, 10)
	var down atomic.Bool
	down.Store(true)
	var probes, calls atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		calls.Add(1)
		if down.Load() {
			if len(batch) == 1 {
				probes.Add(1)
			}
			return nil, fault.Server(errors.New("connection refused"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	obs := &recordingObserver{}
	var dead atomic.Int32
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, RetryBackoff: 10 * time.Millisecond, MaxServerBackoff: 50 * time.Millisecond,
		BreakerThreshold: 3, Hooks: []Hook{obs},
		DeadLetter: func(*kgo.Record, Failure) []*kgo.Record { dead.Add(1); return nil },
	})
	deadline := time.Now().Add(10 * time.Second)
	for probes.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if probes.Load() < 3 {
		t.Fatalf("only %d probes while the server was down", probes.Load())
	}
	down.Store(false)
	recs := h.consumeAll("out", 100, 20*time.Second)
	checkOrder(t, recs, 10, 10)
	if dead.Load() != 0 {
		t.Fatalf("%d records dead-lettered during an outage", dead.Load())
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	var sawOpen, sawHalf, closedLast bool
	for _, s := range obs.states {
		sawOpen = sawOpen || s == "open"
		sawHalf = sawHalf || s == "half-open"
	}
	closedLast = len(obs.states) > 0 && obs.states[len(obs.states)-1] == "closed"
	if !sawOpen || !sawHalf || !closedLast {
		t.Fatalf("breaker states %v: want open, half-open, then closed", obs.states)
	}
}

func TestLimiterAdapts(t *testing.T) {
	l := newLimiter(1, 16)
	for range 200 {
		l.observe(10*time.Millisecond, true)
	}
	if l.current() != 16 {
		t.Fatalf("limit %d after steady latency, want 16", l.current())
	}
	for range 20 {
		l.observe(50*time.Millisecond, true) // latency climbs: back off
	}
	if c := l.current(); c > 4 {
		t.Fatalf("limit %d after latency climbed 5x, want at most 4", c)
	}
	l.limit = 8
	l.overload()
	if l.current() != 4 {
		t.Fatalf("limit %d after overload from 8, want 4", l.current())
	}
	for range 10 {
		l.overload()
	}
	if l.current() != 1 {
		t.Fatalf("limit %d, want the floor 1", l.current())
	}
}

// A record the server cannot take (a 5xx for that input alone) is, by the
// rules, a server problem and never counts attempts. It must not stall
// everyone else: the breaker's probe rotates over ready records, so other
// records close the breaker, and every other document goes through.
func TestToxicServerErrorRecordDoesNotStallOthers(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	toxic := &kgo.Record{Topic: "in", Key: []byte("toxic"), Value: []byte("toxic:0")}
	if err := h.cl.ProduceSync(context.Background(), toxic).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.produce("in", 10, 10)
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		for _, r := range batch {
			if string(r.Value) == "toxic:0" {
				return nil, fault.Server(errors.New("500 internal error"), 0)
			}
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, RetryBackoff: 5 * time.Millisecond, MaxServerBackoff: 20 * time.Millisecond,
		BreakerThreshold: 2, BatchMaxRecords: 4,
	})
	recs := h.consumeAll("out", 100, 20*time.Second)
	checkOrder(t, recs, 10, 10)
}
