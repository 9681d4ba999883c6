package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/fault"
)

// deadLetters records the failures the engine gave up on.
type deadLetters struct {
	mu   sync.Mutex
	recs []Failure
	vals []string
}

func (d *deadLetters) fn(rec *kgo.Record, f Failure) []*kgo.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs = append(d.recs, f)
	d.vals = append(d.vals, string(rec.Value))
	return nil
}

func (d *deadLetters) snapshot() ([]Failure, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Failure(nil), d.recs...), append([]string(nil), d.vals...)
}

func contains(batch []*kgo.Record, value string) bool {
	for _, r := range batch {
		if string(r.Value) == value {
			return true
		}
	}
	return false
}

// committed returns the group's committed offset of topic's partition 0.
func (h *harness) committed(group, topic string) int64 {
	h.t.Helper()
	adm := kadm.NewClient(h.cl)
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		h.t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

// Finding 1: a hung request and a few 500s must not stop the worker. The
// 500s used to halve the adaptive concurrency down to a floor of 1, which
// the hung request then held: nothing else was sent until it timed out.
func TestHungRequestDoesNotStallOthers(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	h.produce("in", 10, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if contains(batch, "k0:0") {
			select { // hangs until released
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		} else if calls.Add(1) <= 6 {
			return nil, fault.Server(errors.New("HTTP 500 Internal Server Error"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, BatchMaxRecords: 1, MaxInFlightBatches: 4,
		RetryBackoff: 5 * time.Millisecond, MaxServerBackoff: 20 * time.Millisecond,
	})
	// Every key but k0 completes while k0's request hangs.
	recs := h.consumeAll("out", 90, 20*time.Second)
	others := map[string]bool{}
	for _, r := range recs {
		if string(r.Key) == "k0" {
			t.Fatalf("k0 output %q while its request hangs", r.Value)
		}
		others[string(r.Value)] = true
	}
	if len(others) != 90 {
		t.Fatalf("%d of 90 other records done while one request hung", len(others))
	}
	close(release)
	checkOrder(t, h.consumeAll("out", 100, 20*time.Second), 10, 10)
}

// Finding "one failed request delays only itself": a server error on one
// key's batch used to pause all dispatch; now only that batch waits (for
// its Retry-After), and the others flow meanwhile.
func TestServerErrorDelaysOnlyItsBatch(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	h.produce("in", 10, 10)
	var k0fails atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if contains(batch, "k0:0") && k0fails.Add(1) <= 2 {
			return nil, fault.Server(errors.New("HTTP 500 Internal Server Error"), time.Second)
		}
		return echo("out", time.Millisecond, nil, nil)(ctx, batch)
	}
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, BatchMaxRecords: 1, MaxInFlightBatches: 4, MinInFlightBatches: 4,
	})
	recs := h.consumeAll("out", 100, 30*time.Second)
	checkOrder(t, recs, 10, 10)
	// Every other key's records were emitted before k0's first: they did
	// not wait for k0's retries.
	for i, r := range recs {
		if string(r.Key) == "k0" {
			if i < 90 {
				t.Fatalf("k0's first output at position %d: other batches waited for its retry", i)
			}
			break
		}
	}
}

// Finding 3: a record that makes the server answer 500 every time, while
// the server answers every other request, was retried forever as a server
// error: its partition's watermark never moved. Now batches that fail so
// are split until it stands alone, and after MaxServerFailures failures
// alone it is dead-lettered with class server; the others go through in
// order and the watermark passes it.
func TestToxicRecordIsDeadLetteredAndWatermarkMoves(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	toxic := &kgo.Record{Topic: "in", Key: []byte("toxic"), Value: []byte("toxic:0")}
	if err := h.cl.ProduceSync(context.Background(), toxic).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.produce("in", 10, 10)
	var toxicCalls atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if contains(batch, "toxic:0") {
			toxicCalls.Add(1)
			return nil, fault.Server(errors.New("HTTP 500: CUDA error: an illegal memory access was encountered"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	var dl deadLetters
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, DeadLetter: dl.fn, BatchMaxRecords: 4, BreakerThreshold: 2,
		RetryBackoff: 5 * time.Millisecond, MaxServerBackoff: 20 * time.Millisecond,
		Probe: func(context.Context) error { return nil }, // the server answers
	})
	checkOrder(t, h.consumeAll("out", 100, 20*time.Second), 10, 10)
	deadline := time.Now().Add(20 * time.Second)
	for h.committed("g", "in") < 101 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := h.committed("g", "in"); c != 101 {
		t.Fatalf("committed offset %d, want 101: the watermark did not pass the toxic record", c)
	}
	fs, vals := dl.snapshot()
	if len(fs) != 1 || vals[0] != "toxic:0" {
		t.Fatalf("dead-lettered %v, want only toxic:0", vals)
	}
	if fs[0].Class != fault.ClassServer || fs[0].Attempts != DefaultMaxServerFailures {
		t.Fatalf("dead-letter class %v after %d failures, want server after %d", fs[0].Class, fs[0].Attempts, DefaultMaxServerFailures)
	}
	// Split until alone, then alone five times: a handful of calls, not one
	// per batch built.
	if n := toxicCalls.Load(); n > 30 {
		t.Fatalf("%d calls held the toxic record", n)
	}
}

// An outage is not a toxic record: when nothing answers, nothing counts,
// however many times a record fails alone.
func TestOutageNeverCountsServerFailures(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	h.produce("in", 3, 3)
	var down atomic.Bool
	down.Store(true)
	var solo atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if down.Load() {
			if len(batch) == 1 {
				solo.Add(1)
			}
			return nil, fault.Server(errors.New("connection refused"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	var dl deadLetters
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, DeadLetter: dl.fn, BatchMaxRecords: 1, MaxServerFailures: 2,
		RetryBackoff: time.Millisecond, MaxServerBackoff: 5 * time.Millisecond,
		Probe: func(context.Context) error {
			if down.Load() {
				return errors.New("connection refused")
			}
			return nil
		},
	})
	deadline := time.Now().Add(10 * time.Second)
	for solo.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if solo.Load() < 20 {
		t.Fatalf("only %d single-record calls during the outage", solo.Load())
	}
	down.Store(false)
	checkOrder(t, h.consumeAll("out", 9, 20*time.Second), 3, 3)
	if fs, vals := dl.snapshot(); len(fs) != 0 {
		t.Fatalf("dead-lettered during an outage: %v", vals)
	}
}

// Finding 4: done records waiting for an unfinished earlier one used to
// stop counting against MaxInFlightBytes, so a stuck head let the ledger
// grow with everything behind it. Now they count until the watermark
// passes them: the partition pauses and memory stays bounded.
func TestMemoryBoundHoldsBehindStuckHead(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	stuck := &kgo.Record{Topic: "in", Key: []byte("stuck"), Value: []byte("stuck:0")}
	if err := h.cl.ProduceSync(context.Background(), stuck).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 4<<10)
	const n = 1000
	for i := 0; i < n; i += 8 { // small producer batches: small fetches
		var recs []*kgo.Record
		for j := i; j < i+8; j++ {
			recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%d", j), Value: fmt.Appendf(nil, "k%d:0:%s", j, pad)})
		}
		if err := h.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if contains(batch, "stuck:0") {
			select { // the request hangs until released
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		res := make([]Result, len(batch))
		for i, r := range batch {
			res[i].Outputs = []*kgo.Record{{Topic: "out", Value: r.Value[:min(len(r.Value), 16)]}}
		}
		return res, nil
	}
	const bound = 512 << 10
	_, e := runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, MaxInFlightBytes: bound, BatchMaxRecords: 4,
	})
	var peak int64
	paused := false
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		s := e.Stats()
		peak = max(peak, s.InFlightBytes)
		paused = paused || s.PausedParts > 0
		time.Sleep(2 * time.Millisecond)
	}
	// One poll may overshoot the bound (it is checked between polls).
	if slack := int64(128 << 10); peak > bound+slack {
		t.Fatalf("in-flight bytes peaked at %d behind a stuck record, bound %d (+%d for one poll)", peak, bound, slack)
	}
	if !paused {
		t.Fatal("the partition was never paused behind the stuck record")
	}
	if c := h.committed("g", "in"); c > 0 {
		t.Fatalf("committed offset %d past the stuck record", c)
	}
	// What the topics show: the engine took (and finished) only about a
	// bound's worth of records behind the stuck one, not the backlog.
	perRecord := int64(4<<10 + recordOverhead)
	got, most := len(h.consumeAll("out", n, 2*time.Second)), int((bound+128<<10)/perRecord)
	t.Logf("%d records finished behind the stuck one; in-flight bytes peaked at %d", got, peak)
	if got > most {
		t.Fatalf("%d records finished behind the stuck one, want at most %d (the bound's worth)", got, most)
	}
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for h.committed("g", "in") < n+1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := h.committed("g", "in"); c != n+1 {
		t.Fatalf("committed offset %d after the record recovered, want %d", c, n+1)
	}
}

// Finding 7: a per-record batch-class result (the request was too big for
// this record's neighbours) counted an attempt and ended in the DLQ. Batch
// errors split and never count.
func TestPerRecordBatchErrorSplitsWithoutCounting(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	h.produce("in", 4, 4)
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		res, _ := echo("out", 0, nil, nil)(ctx, batch)
		if len(batch) > 1 {
			for i, r := range batch {
				if strings.HasPrefix(string(r.Value), "k0:") {
					res[i] = Result{Err: fault.Batch(errors.New("HTTP 413 Payload Too Large"))}
				}
			}
		}
		return res, nil
	}
	var dl deadLetters
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, DeadLetter: dl.fn, MaxAttempts: 1, BatchMaxRecords: 16,
	})
	checkOrder(t, h.consumeAll("out", 16, 20*time.Second), 4, 4)
	if _, vals := dl.snapshot(); len(vals) != 0 {
		t.Fatalf("dead-lettered after batch-class results: %v", vals)
	}
}

// Finding 5: in exactly-once mode one round waited with no deadline for
// every record of its poll, holding rebalances, until the coordinator
// aborted the transaction and the worker died fenced. Now a round that
// cannot finish is aborted at its deadline and retried: an outage longer
// than the transaction timeout loses nothing, duplicates nothing under
// read_committed, and the worker keeps running.
func TestExactlyOnceWaitsOutOutage(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	h.produce("in", 6, 10)
	outageEnds := time.Now().Add(7 * time.Second)
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if time.Now().Before(outageEnds) {
			return nil, fault.Server(errors.New("connection refused"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	var dl deadLetters
	stop, e := runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, DeadLetter: dl.fn, ExactlyOnce: true, TransactionalID: "t-outage",
		TransactionTimeout: 3 * time.Second, DrainTimeout: time.Second,
		RetryBackoff: 10 * time.Millisecond, MaxServerBackoff: 200 * time.Millisecond,
	})
	recs := h.consumeAll("out", 60, 40*time.Second)
	checkOrder(t, recs, 6, 10)
	if len(recs) != 60 {
		t.Fatalf("%d outputs under read_committed for 60 inputs: duplicates", len(recs))
	}
	if _, vals := dl.snapshot(); len(vals) != 0 {
		t.Fatalf("dead-lettered during an outage: %v", vals)
	}
	if e.Stats().Done < 60 {
		t.Fatalf("engine reports %d done", e.Stats().Done)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after the outage: %v", err)
	}
}

// Finding 6: shutting down an exactly-once worker under load returned
// "client is aborting buffered records" instead of nil. Now the round is
// aborted quietly, Run returns nil, and a successor completes the work
// with no duplicate under read_committed.
func TestExactlyOnceShutdownUnderLoadIsClean(t *testing.T) {
	h := newHarness(t, 2, "in", "out")
	h.produce("in", 20, 50)
	cfg := Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 20*time.Millisecond, nil, nil), ExactlyOnce: true, TransactionalID: "t-stop",
		DrainTimeout: 30 * time.Millisecond, BatchMaxRecords: 8, TxnMaxRecords: 400,
	}
	stop, e := runEngine(t, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for e.Stats().Done < 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run under load: %v", err)
	}
	cfg.Handler = echo("out", 0, nil, nil)
	_, _ = runEngine(t, cfg)
	recs := h.consumeAll("out", 1000, 40*time.Second)
	checkOrder(t, recs, 20, 50)
	if len(recs) != 1000 {
		t.Fatalf("%d outputs under read_committed for 1000 inputs", len(recs))
	}
}

// Validate budgets a revoke's drain and commit inside the rebalance
// timeout.
func TestValidateBudgetsRevoke(t *testing.T) {
	cfg := Config{Group: "g", Topics: []string{"in"}, Handler: echo("out", 0, nil, nil),
		RebalanceTimeout: 15 * time.Second, DrainTimeout: 10 * time.Second}
	cfg.setDefaults()
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "commit timeout") {
		t.Fatalf("Validate = %v, want a rebalance budget error", err)
	}
	if d := DefaultMinInFlightBatches(8); d < 2 {
		t.Fatalf("default concurrency floor %d lets one hung request stop a worker", d)
	}
}

// A round too big to finish before its deadline (a slow handler) does not
// livelock exactly-once mode: rounds shrink until one commits, and all
// records get through exactly once.
func TestExactlyOnceRoundsShrinkUntilTheyFinish(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	h.produce("in", 40, 10) // 400 records
	var dl deadLetters
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		// 400 records at 4 per batch, 2 batches at a time, 40 ms each: a
		// whole poll takes 2 s, over the 1.5 s round deadline.
		Handler: echo("out", 40*time.Millisecond, nil, nil), DeadLetter: dl.fn, BatchMaxRecords: 4,
		MaxInFlightBatches: 2, MinInFlightBatches: 2, ExactlyOnce: true, TransactionalID: "t-shrink",
		TransactionTimeout: 3 * time.Second, DrainTimeout: time.Second, TxnMaxRecords: 400,
		RetryBackoff: 10 * time.Millisecond, MaxServerBackoff: 50 * time.Millisecond,
	})
	recs := h.consumeAll("out", 400, 60*time.Second)
	checkOrder(t, recs, 40, 10)
	if len(recs) != 400 {
		t.Fatalf("%d outputs under read_committed for 400 inputs", len(recs))
	}
}
