package engine

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Members join and leave mid-stream: nothing is lost and no key's order
// breaks (duplicates from redone in-flight work are allowed).
func TestMembersJoinAndLeaveMidStream(t *testing.T) {
	h := newHarness(t, 6, "in", "out")
	const keys, n = 30, 100
	h.produce("in", keys, n)
	cfg := Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 20*time.Millisecond, nil, nil), BatchMaxRecords: 4, MaxInFlightBatches: 4,
	}
	stop1, e1 := runEngine(t, cfg)
	waitDone(t, e1, 100)
	stop2, e2 := runEngine(t, cfg) // joins: partitions move to it
	waitDone(t, e2, 20)
	_, e3 := runEngine(t, cfg)
	waitDone(t, e3, 20)
	if err := stop1(); err != nil { // leaves: its partitions move on
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	recs := h.consumeAll("out", keys*n, 30*time.Second)
	checkOrder(t, recs, keys, n)
}

func waitDone(t *testing.T, e *Engine, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.Stats().Done < n {
		if time.Now().After(deadline) {
			t.Fatalf("engine did only %d records", e.Stats().Done)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A handler far slower than the session timeout does not cost the member
// its place: heartbeats run in the background, and no rebalance happens.
func TestSlowHandlerKeepsMembership(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	h.produce("in", 4, 2)
	cfg := Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 2500*time.Millisecond, nil, nil), BatchMaxRecords: 1, MaxInFlightBatches: 2,
		SessionTimeout: time.Second, RebalanceTimeout: 20 * time.Second, DrainTimeout: 5 * time.Second,
	}
	_, _ = runEngine(t, cfg)
	recs := h.consumeAll("out", 8, 30*time.Second)
	checkOrder(t, recs, 4, 2)
	if len(recs) != 8 {
		t.Fatalf("%d outputs, want exactly 8: a rebalance made work run twice", len(recs))
	}
}

// Shutdown returns within the drain deadline, also when it comes while the
// member is still joining the group.
func TestShutdownDuringJoinIsBounded(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	h.produce("in", 2, 2)
	e, err := New(Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 0, nil, nil), DrainTimeout: time.Second, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	time.Sleep(5 * time.Millisecond) // mid-join
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not return")
	}
	if took := time.Since(start); took > 12*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
}

// On revoke the engine commits what is done: a member that takes over a
// partition redoes at most the revoked member's in-flight work.
func TestRevokeCommitsDoneWork(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	const keys, n = 10, 50
	h.produce("in", keys, n)
	cfg := Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 2*time.Millisecond, nil, nil), BatchMaxRecords: 2, MaxInFlightBatches: 2,
		CommitInterval: time.Hour, // only revoke and shutdown commit
	}
	_, e1 := runEngine(t, cfg)
	waitDone(t, e1, 100)
	_, _ = runEngine(t, cfg)
	h.consumeAll("out", keys*n, 30*time.Second) // wait for all
	time.Sleep(500 * time.Millisecond)
	recs := h.consumeAll("out", keys*n+1, time.Second)
	checkOrder(t, recs, keys, n)
	// Without a commit on revoke, the partition moved to the new member
	// would be redone from the start (about half the records).
	if dups := len(recs) - keys*n; dups > 2*2*2+10 {
		t.Fatalf("%d duplicates after a rebalance: revoke did not commit", dups)
	}
}
