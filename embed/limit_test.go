package embed

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// limitedEndpoint answers requests of more than max inputs with a batch
// error, and records the size of every request.
type limitedEndpoint struct {
	name string
	mu   sync.Mutex
	max  int
	bad  string // an input containing it is refused with a record error
	reqs []int
	errs int
}

func (f *limitedEndpoint) URL() string   { return f.name }
func (f *limitedEndpoint) Model() string { return "m" }

func (f *limitedEndpoint) setMax(n int) {
	f.mu.Lock()
	f.max = n
	f.mu.Unlock()
}

func (f *limitedEndpoint) stats() (reqs []int, errs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.reqs...), f.errs
}

func (f *limitedEndpoint) Embed(_ context.Context, inputs []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, len(inputs))
	if len(inputs) > f.max {
		f.errs++
		return nil, fault.Batch(fmt.Errorf("HTTP 413: batch size %d > maximum allowed batch size %d", len(inputs), f.max))
	}
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		if f.bad != "" && strings.Contains(in, f.bad) {
			return nil, fault.RecordAt(i, fmt.Errorf("input %d is invalid", i))
		}
		out[i] = []float32{float32(len(in))}
	}
	return out, nil
}

func newLimitPool(t *testing.T, f *limitedEndpoint, cfg PoolConfig) (*Pool, *fakeClock) {
	t.Helper()
	cfg.Logger = quietLogger
	p, err := NewPool([]Embedder{f}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	p.now = clk.now
	return p, clk
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("x", i+1)
	}
	return out
}

func embedOK(t *testing.T, p *Pool, in []string) {
	t.Helper()
	vecs, err := p.Embed(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(in) {
		t.Fatalf("%d vectors for %d inputs", len(vecs), len(in))
	}
	for i, v := range vecs {
		if int(v[0]) != len(in[i]) {
			t.Fatalf("vector %d is for another input", i)
		}
	}
}

func TestPoolLearnsBatchLimitAndProbesUp(t *testing.T) {
	f := &limitedEndpoint{name: "a", max: 32}
	p, clk := newLimitPool(t, f, PoolConfig{BatchProbeAfter: 4})
	embedOK(t, p, numbered(64))
	if reqs, errs := f.stats(); errs != 1 || fmt.Sprint(reqs) != "[64 32 32]" {
		t.Fatalf("first call: requests %v, %d refused", reqs, errs)
	}
	if h := p.Health()[0]; h.BatchLimit != 32 || h.Failures != 0 || h.State != BreakerClosed {
		t.Fatalf("health %+v", h)
	}
	// Probes towards the smallest failing size: 48, 40, 36, 34, 33, then
	// never again while that failure is remembered.
	for range 200 {
		embedOK(t, p, numbered(64))
	}
	reqs, errs := f.stats()
	if errs != 6 {
		t.Fatalf("%d refused requests (sizes %v), want 1 + 5 probes", errs, reqs)
	}
	if h := p.Health()[0]; h.BatchLimit != 32 {
		t.Fatalf("limit %d, want 32", h.BatchLimit)
	}

	// The server's limit rises; once the failures are older than the
	// memory, the limit doubles back up.
	f.setMax(64)
	clk.advance(DefaultBatchLimitMemory + time.Second)
	for range 4 {
		embedOK(t, p, numbered(64))
	}
	if h := p.Health()[0]; h.BatchLimit != 64 {
		t.Fatalf("limit %d after the memory passed, want 64", h.BatchLimit)
	}
	before, _ := f.stats()
	embedOK(t, p, numbered(64))
	after, errs2 := f.stats()
	if len(after) != len(before)+1 || errs2 != errs {
		t.Fatalf("a call of 64 took %v", after[len(before):])
	}
}

func TestPoolBatchLimitNeverProbesAKnownBadSize(t *testing.T) {
	f := &limitedEndpoint{name: "a", max: 10}
	p, _ := newLimitPool(t, f, PoolConfig{BatchProbeAfter: 2})
	for range 100 {
		embedOK(t, p, numbered(16))
	}
	reqs, errs := f.stats()
	for _, n := range reqs {
		if n > 16 {
			t.Fatalf("a request of %d", n)
		}
	}
	// 16 fails → 8; probes 12, 10 (fail, back to 8), 9, then 9 holds.
	if errs > 5 {
		t.Fatalf("%d refused requests: %v", errs, reqs)
	}
	if h := p.Health()[0]; h.BatchLimit != 10 && h.BatchLimit != 9 {
		t.Fatalf("limit %d", h.BatchLimit)
	}
}

func TestPoolSingleInputBatchErrorReturnedAsIs(t *testing.T) {
	f := &limitedEndpoint{name: "a", max: 0}
	p, _ := newLimitPool(t, f, PoolConfig{})
	_, err := p.Embed(t.Context(), numbered(3))
	if fault.ClassOf(err) != fault.ClassBatch {
		t.Fatalf("class %v: %v", fault.ClassOf(err), err)
	}
	if reqs, _ := f.stats(); fmt.Sprint(reqs) != "[3 1]" {
		t.Fatalf("requests %v", reqs)
	}
	if h := p.Health()[0]; h.Failures != 0 || h.BatchLimit != 1 {
		t.Fatalf("health %+v", h)
	}
}

func TestPoolRecordIndexRefersToTheCallersSlice(t *testing.T) {
	f := &limitedEndpoint{name: "a", max: 2, bad: "BAD"}
	p, _ := newLimitPool(t, f, PoolConfig{})
	in := []string{"a", "b", "c", "BAD"}
	_, err := p.Embed(t.Context(), in)
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 3 {
		t.Fatalf("class %v index %d: %v", fault.ClassOf(err), fault.IndexOf(err), err)
	}
}

// ceilingEndpoint has its own batch limit, as TEI's max_client_batch_size.
type ceilingEndpoint struct {
	limitedEndpoint
	ceiling int
}

func (c *ceilingEndpoint) MaxInputs() int { return c.ceiling }

func TestPoolStartsFromTheEndpointsOwnLimit(t *testing.T) {
	f := &ceilingEndpoint{limitedEndpoint: limitedEndpoint{name: "a", max: 100}, ceiling: 8}
	p, err := NewPool([]Embedder{f}, PoolConfig{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if h := p.Health()[0]; h.BatchLimit != 8 {
		t.Fatalf("limit %d", h.BatchLimit)
	}
	if _, err := p.Embed(t.Context(), numbered(20)); err != nil {
		t.Fatal(err)
	}
	if reqs, _ := f.stats(); fmt.Sprint(reqs) != "[8 8 4]" {
		t.Fatalf("requests %v", reqs)
	}
}

func TestPoolTEIInfoLimitIsTheInitialCap(t *testing.T) {
	f := &fakeTEI{info: `{"model_id":"m","max_client_batch_size":8}`, dim: 4, maxBatch: 8}
	tei := newTEI(t, startTEI(t, f), nil)
	p, err := NewPool([]Embedder{tei}, PoolConfig{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Embed(t.Context(), inputs(20)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.requestSizes()); got != "[8 8 4]" {
		t.Fatalf("requests %s", got)
	}
	if h := p.Health()[0]; h.BatchLimit != 8 {
		t.Fatalf("limit %d", h.BatchLimit)
	}
}

func TestLearnedLimitUnit(t *testing.T) {
	now := time.Unix(0, 0)
	var l learnedLimit
	if from, to := l.failed(64, 0, false, now, time.Minute); from != 0 || to != 32 {
		t.Fatalf("failed 64: %d→%d", from, to)
	}
	// A request sent before the drop teaches nothing.
	if from, to := l.failed(64, 0, false, now, time.Minute); from != 32 || to != 32 {
		t.Fatalf("stale failure: %d→%d", from, to)
	}
	// The largest size that passed is kept when it lies above half.
	l = learnedLimit{maxGood: 40}
	if _, to := l.failed(48, 0, false, now, time.Minute); to != 40 {
		t.Fatalf("with maxGood 40: %d", to)
	}
	// Never below 1.
	l = learnedLimit{}
	if _, to := l.failed(2, 0, false, now, time.Minute); to != 1 {
		t.Fatalf("failed 2: %d", to)
	}
	// A probe goes halfway to the known-bad size, at most the ceiling,
	// one request at a time; once it passes, the ceiling is the limit.
	l = learnedLimit{learned: 30, minBad: 100, badAt: now}
	if from, to := l.succeeded(30, 40, 1, false, now, time.Minute); from != 30 || to != 30 || l.probe != 40 {
		t.Fatalf("after the successes: %d→%d, probe %d", from, to, l.probe)
	}
	if n, probe := l.chunk(64, 40); n != 40 || !probe {
		t.Fatalf("chunk %d probe %v", n, probe)
	}
	if n, probe := l.chunk(64, 40); n != 30 || probe {
		t.Fatalf("second chunk while probing: %d probe %v", n, probe)
	}
	if from, to := l.succeeded(40, 40, 1, true, now, time.Minute); from != 30 || to != 40 || l.learned != 0 {
		t.Fatalf("probe passed: %d→%d (learned %d)", from, to, l.learned)
	}
	// A failed probe keeps the limit and remembers the size.
	l = learnedLimit{learned: 32, minBad: 64, badAt: now, probe: 48}
	if n, probe := l.chunk(64, 0); n != 48 || !probe {
		t.Fatalf("chunk %d probe %v", n, probe)
	}
	if from, to := l.failed(48, 0, true, now, time.Minute); from != 32 || to != 32 || l.minBad != 48 || l.probe != 0 {
		t.Fatalf("failed probe: %d→%d, %+v", from, to, l)
	}
}

func TestPoolLearnsLimitUnderConcurrency(t *testing.T) {
	f := &limitedEndpoint{name: "a", max: 32}
	p, _ := newLimitPool(t, f, PoolConfig{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := p.Embed(context.Background(), numbered(64)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The first requests of all callers may be refused together; probes
	// go one at a time.
	if _, errs := f.stats(); errs > 8+2 {
		t.Fatalf("%d refused requests for 8 concurrent callers", errs)
	}
	if h := p.Health()[0]; h.BatchLimit != 32 {
		t.Fatalf("limit %d", h.BatchLimit)
	}
}
