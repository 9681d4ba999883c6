package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/fault"
)

func testLogger() *slog.Logger {
	if os.Getenv("RAGPIPE_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

type harness struct {
	t     *testing.T
	addrs []string
	cl    *kgo.Client
}

func newHarness(t *testing.T, partitions int32, topics ...string) *harness {
	t.Helper()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(context.Background(), partitions, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, addrs: b.Addrs(), cl: cl}
}

// produce writes n records per key for keys k0..k(keys-1), interleaved,
// with value "<key>:<seq>".
func (h *harness) produce(topic string, keys, n int) {
	h.t.Helper()
	var recs []*kgo.Record
	for i := range n {
		for k := range keys {
			key := fmt.Sprintf("k%d", k)
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(key + ":" + strconv.Itoa(i))})
		}
	}
	if err := h.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// consumeAll reads topic until want distinct values arrived or the timeout.
func (h *harness) consumeAll(topic string, want int, timeout time.Duration) []*kgo.Record {
	h.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	distinct := map[string]bool{}
	for len(distinct) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, r := range f.Records() {
			out = append(out, r)
			distinct[string(r.Value)] = true
		}
	}
	return out
}

// echo copies each input to out, optionally sleeping per batch.
func echo(out string, sleep time.Duration, inflight *atomic.Int32, peak *atomic.Int32) Handler {
	return func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if inflight != nil {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		}
		if sleep > 0 {
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		res := make([]Result, len(batch))
		for i, r := range batch {
			res[i].Outputs = []*kgo.Record{{Topic: out, Value: r.Value}}
		}
		return res, nil
	}
}

// checkOrder asserts every key's values arrive with increasing sequence
// numbers at their first appearance and that all n·keys are present.
func checkOrder(t *testing.T, recs []*kgo.Record, keys, n int) {
	t.Helper()
	next := map[string]int{}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			continue // a duplicate after a retry or restart is allowed
		}
		seen[string(r.Value)] = true
		var k string
		var i int
		if _, err := fmt.Sscanf(string(r.Value), "%2s:%d", &k, &i); err != nil {
			k, i = parseVal(t, string(r.Value))
		}
		key := string(r.Key)
		if i != next[key] {
			t.Fatalf("key %s: got seq %d, want %d (order broken)", key, i, next[key])
		}
		next[key]++
	}
	if len(seen) != keys*n {
		t.Fatalf("got %d distinct records, want %d", len(seen), keys*n)
	}
}

func parseVal(t *testing.T, v string) (string, int) {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ':' {
			n, err := strconv.Atoi(v[i+1:])
			if err != nil {
				t.Fatalf("bad value %q", v)
			}
			return v[:i], n
		}
	}
	t.Fatalf("bad value %q", v)
	return "", 0
}

func runEngine(t *testing.T, cfg Config) (stop func() error, e *Engine) {
	t.Helper()
	cfg.Logger = testLogger()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		err := e.Run(ctx)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		errc <- err
	}()
	var once sync.Once
	var rerr error
	stop = func() error {
		once.Do(func() { cancel(); rerr = <-errc })
		return rerr
	}
	t.Cleanup(func() { _ = stop() })
	return stop, e
}

// The invariant: with a slow handler and one partition carrying many keys,
// batches run concurrently within the partition and every key's outputs
// keep their offset order.
func TestKeyOrderWithConcurrencyInOnePartition(t *testing.T) {
	h := newHarness(t, 1, "in", "out")
	const keys, n = 50, 20
	h.produce("in", keys, n)
	var inflight, peak atomic.Int32
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 20*time.Millisecond, &inflight, &peak), MaxInFlightBatches: 8, BatchMaxRecords: 8,
	})
	recs := h.consumeAll("out", keys*n, 30*time.Second)
	checkOrder(t, recs, keys, n)
	if peak.Load() < 2 {
		t.Fatalf("peak concurrent batches in one partition = %d, want > 1", peak.Load())
	}
	t.Logf("peak concurrent batches: %d", peak.Load())
}

// A record error is retried, fences only its key, and after MaxAttempts the
// record is dead-lettered while every other record goes through.
func TestPoisonRecordIsDeadLetteredAndOthersFlow(t *testing.T) {
	h := newHarness(t, 2, "in", "out", "dlq")
	const keys, n = 10, 10
	h.produce("in", keys, n)
	var calls atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		for i, r := range batch {
			if string(r.Value) == "k3:4" {
				calls.Add(1)
				return nil, fault.RecordAt(i, errors.New("bad input"))
			}
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, RetryBackoff: 10 * time.Millisecond,
		DeadLetter: func(rec *kgo.Record, f Failure) []*kgo.Record {
			return []*kgo.Record{{Topic: "dlq", Value: rec.Value, Headers: []kgo.RecordHeader{{Key: "attempts", Value: []byte(strconv.Itoa(f.Attempts))}}}}
		},
	})
	dlq := h.consumeAll("dlq", 1, 20*time.Second)
	if len(dlq) != 1 || string(dlq[0].Value) != "k3:4" || string(dlq[0].Headers[0].Value) != "3" {
		t.Fatalf("dlq = %v", dlq)
	}
	out := h.consumeAll("out", keys*n-1, 20*time.Second)
	if len(out) < keys*n-1 {
		t.Fatalf("out has %d records, want %d", len(out), keys*n-1)
	}
	if got := calls.Load(); got != 3 {
		t.Fatalf("poison record attempted %d times, want 3", got)
	}
	// k3's records after the poison one still come in order.
	var k3 []string
	for _, r := range out {
		if string(r.Key) == "k3" {
			k3 = append(k3, string(r.Value))
		}
	}
	for i, v := range k3 {
		want := i
		if i >= 4 {
			want = i + 1
		}
		if v != fmt.Sprintf("k3:%d", want) {
			t.Fatalf("k3 order: %v", k3)
		}
	}
}

// Server errors are retried without counting attempts: nothing is
// dead-lettered however long the outage lasts.
func TestServerErrorsNeverDeadLetter(t *testing.T) {
	h := newHarness(t, 1, "in", "out", "dlq")
	h.produce("in", 5, 5)
	var fails atomic.Int32
	handler := func(ctx context.Context, batch []*kgo.Record) ([]Result, error) {
		if fails.Add(1) <= 10 {
			return nil, fault.Server(errors.New("503 overloaded"), 0)
		}
		return echo("out", 0, nil, nil)(ctx, batch)
	}
	var dead atomic.Int32
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: handler, RetryBackoff: 5 * time.Millisecond, MaxServerBackoff: 20 * time.Millisecond,
		DeadLetter: func(rec *kgo.Record, f Failure) []*kgo.Record { dead.Add(1); return nil },
	})
	out := h.consumeAll("out", 25, 20*time.Second)
	checkOrder(t, out, 5, 5)
	if dead.Load() != 0 {
		t.Fatalf("%d records dead-lettered during a server outage", dead.Load())
	}
}

// Shutdown commits the done prefix: a second member of the group resumes
// where the first stopped, and skips nothing.
func TestShutdownCommitsAndResumes(t *testing.T) {
	h := newHarness(t, 3, "in", "out")
	h.produce("in", 6, 30)
	stop, e := runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 5*time.Millisecond, nil, nil), BatchMaxRecords: 4, MaxInFlightBatches: 2,
	})
	deadline := time.Now().Add(20 * time.Second)
	for e.Stats().Done < 60 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	first := len(h.consumeAll("out", 180, 2*time.Second))
	_, _ = runEngine(t, Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 0, nil, nil),
	})
	recs := h.consumeAll("out", 180, 20*time.Second)
	checkOrder(t, recs, 6, 30)
	dups := len(recs) - 180
	t.Logf("first run emitted %d, duplicates after restart: %d", first, dups)
	if dups > 2*4 { // at most the in-flight window
		t.Fatalf("%d duplicates after a clean shutdown, want at most the in-flight window", dups)
	}
}

// Exactly-once mode: outputs and offsets commit together, so across a stop
// and restart a read_committed reader sees every output exactly once.
func TestExactlyOnceAcrossRestart(t *testing.T) {
	h := newHarness(t, 3, "in", "out")
	const keys, n = 8, 50
	h.produce("in", keys, n)
	cfg := Config{
		Group: "g", Topics: []string{"in"}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(h.addrs...)},
		Handler: echo("out", 2*time.Millisecond, nil, nil), ExactlyOnce: true, TransactionalID: "eos-test",
		TxnMaxRecords: 40, BatchMaxRecords: 8,
	}
	stop, e := runEngine(t, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for e.Stats().Done < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, _ = runEngine(t, cfg)
	deadline = time.Now().Add(20 * time.Second)
	for len(h.consumeAll("out", keys*n, 100*time.Millisecond)) < keys*n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Read one more than expected: a duplicate would show up here.
	recs := h.consumeAll("out", keys*n+1, 2*time.Second)
	checkOrder(t, recs, keys, n)
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("%s seen %d times under read_committed", v, c)
		}
	}
	if len(recs) != keys*n {
		t.Fatalf("%d records, want %d", len(recs), keys*n)
	}
}
