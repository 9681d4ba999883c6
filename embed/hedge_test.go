package embed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// stallingEndpoint answers at once, except that its next `stall` calls
// block until their context ends (a hung GPU request).
type stallingEndpoint struct {
	name                    string
	stall                   atomic.Int64
	calls, canceled, served atomic.Int64
	failWith                error // returned by stalled calls instead of waiting, after delay
	delay                   time.Duration
}

func (f *stallingEndpoint) URL() string   { return f.name }
func (f *stallingEndpoint) Model() string { return "m" }

func (f *stallingEndpoint) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	f.calls.Add(1)
	if f.stall.Add(-1) >= 0 {
		if f.failWith != nil {
			time.Sleep(f.delay)
			return nil, f.failWith
		}
		<-ctx.Done()
		f.canceled.Add(1)
		return nil, fault.Server(ctx.Err(), 0)
	}
	f.stall.Add(1) // undo the decrement: stay at zero
	f.served.Add(1)
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

func newStallPool(t *testing.T, cfg PoolConfig, eps ...*stallingEndpoint) *Pool {
	t.Helper()
	ems := make([]Embedder, len(eps))
	for i, e := range eps {
		ems[i] = e
	}
	cfg.Logger = quietLogger
	if cfg.HedgeFloor == 0 {
		cfg.HedgeFloor = 30 * time.Millisecond
	}
	p, err := NewPool(ems, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func warmUp(t *testing.T, p *Pool) {
	t.Helper()
	for range HedgeMinSamples * len(p.eps) {
		if _, err := p.Embed(t.Context(), inputs(2)); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range p.Health() {
		if h.HedgeAfter == 0 {
			t.Fatalf("no hedge threshold after warm-up: %+v", h)
		}
	}
}

// seedLatency fills each endpoint's latency window as if it had answered
// HedgeMinSamples requests in d[i]; the lowest latency is preferred.
func seedLatency(p *Pool, d ...time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, ep := range p.eps {
		for range HedgeMinSamples {
			ep.window.add(d[i])
		}
		ep.latency = d[i]
	}
}

// eventually polls cond for up to 2s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolHedgesAHungRequestOnAnotherEndpoint(t *testing.T) {
	a, b := &stallingEndpoint{name: "a"}, &stallingEndpoint{name: "b"}
	p := newStallPool(t, PoolConfig{}, a, b)
	seedLatency(p, time.Millisecond, 2*time.Millisecond) // a is preferred
	a.stall.Store(1)
	t0 := time.Now()
	if _, err := p.Embed(t.Context(), inputs(2)); err != nil {
		t.Fatal(err)
	}
	if took, after := time.Since(t0), health(p, "a").HedgeAfter; took < after || took > after+1500*time.Millisecond {
		t.Fatalf("the call took %s with a hedge after %s", took, after)
	}
	if a.calls.Load() != 1 || b.calls.Load() != 1 {
		t.Fatalf("calls: a %d, b %d", a.calls.Load(), b.calls.Load())
	}
	eventually(t, "the hung request to be canceled", func() bool { return a.canceled.Load() == 1 })
	ha, hb := health(p, "a"), health(p, "b")
	if ha.Hedged != 1 || hb.Hedges != 1 || hb.HedgeWins != 1 || ha.Hedges != 0 {
		t.Fatalf("hedge counts: a %+v, b %+v", ha, hb)
	}
	if ha.Failures != 0 || ha.ConsecutiveFailures != 0 || ha.State != BreakerClosed {
		t.Fatalf("the canceled loser counted as a failure: %+v", ha)
	}
	eventually(t, "nothing in flight", func() bool { return health(p, "a").InFlight == 0 && health(p, "b").InFlight == 0 })
}

func TestPoolHedgesOnTheSameEndpointWhenAlone(t *testing.T) {
	a := &stallingEndpoint{name: "a"}
	p := newStallPool(t, PoolConfig{FailureThreshold: 1}, a)
	warmUp(t, p)
	a.stall.Store(1)
	t0 := time.Now()
	if _, err := p.Embed(t.Context(), inputs(2)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	after := health(p, "a").HedgeAfter
	if took < after || took > after+1500*time.Millisecond {
		t.Fatalf("the call took %s with a hedge after %s", took, after)
	}
	eventually(t, "the hung request to be canceled", func() bool { return a.canceled.Load() == 1 })
	h := health(p, "a")
	if h.Hedged != 1 || h.Hedges != 1 || h.HedgeWins != 1 || h.Failures != 0 || h.State != BreakerClosed {
		t.Fatalf("health %+v", h)
	}
	eventually(t, "nothing in flight", func() bool { return health(p, "a").InFlight == 0 })
}

func TestPoolNoHedgeBeforeEnoughSamples(t *testing.T) {
	a := &stallingEndpoint{name: "a"}
	p := newStallPool(t, PoolConfig{}, a)
	for range HedgeMinSamples - 1 {
		if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
			t.Fatal(err)
		}
	}
	if h := health(p, "a"); h.HedgeAfter != 0 || h.LatencyP99 != 0 {
		t.Fatalf("health %+v", h)
	}
	a.stall.Store(1)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Embed(ctx, inputs(1)); !fault.IsCanceled(err) {
		t.Fatalf("error %v", err)
	}
	if h := health(p, "a"); h.Hedges != 0 || a.calls.Load() != HedgeMinSamples {
		t.Fatalf("hedged too early: %+v", h)
	}
}

func TestPoolHedgingOff(t *testing.T) {
	a := &stallingEndpoint{name: "a"}
	p := newStallPool(t, PoolConfig{HedgeMultiplier: HedgeOff}, a)
	for range 2 * HedgeMinSamples {
		if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
			t.Fatal(err)
		}
	}
	if h := health(p, "a"); h.HedgeAfter != 0 || h.LatencyP99 == 0 {
		t.Fatalf("health %+v", h)
	}
}

// Hedges are budgeted: a burst, then a share of the requests.
func TestPoolHedgeBudget(t *testing.T) {
	a := &stallingEndpoint{name: "a"}
	p := newStallPool(t, PoolConfig{HedgeBurst: 2, HedgeBudget: 0.1, HedgeFloor: 10 * time.Millisecond}, a)
	warmUp(t, p) // 20 requests: the bucket is full (2 tokens)
	// Every request hangs, hedges too: each call ends at its deadline.
	a.stall.Store(1 << 30)
	for range 5 {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
		_, err := p.Embed(ctx, inputs(1))
		cancel()
		if err == nil {
			t.Fatal("a hung call succeeded")
		}
	}
	if h := health(p, "a"); h.Hedges != 2 {
		t.Fatalf("%d hedges for 5 hung calls with a burst of 2", h.Hedges)
	}
	if h := health(p, "a"); h.Failures != 0 {
		t.Fatalf("canceled calls counted as failures: %+v", h)
	}
	// 10 more requests earn one more hedge.
	a.stall.Store(0)
	eventually(t, "nothing in flight", func() bool { return health(p, "a").InFlight == 0 })
	for range 10 {
		if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
			t.Fatal(err)
		}
	}
	a.stall.Store(1)
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if h := health(p, "a"); h.Hedges != 3 || h.HedgeWins != 1 {
		t.Fatalf("health %+v", h)
	}
}

// When the request and its hedge both fail, the pool fails over as
// without hedging.
func TestPoolHedgeBothFailThenFailover(t *testing.T) {
	down := fault.Server(errors.New("connection reset"), 0)
	a := &stallingEndpoint{name: "a", failWith: down, delay: 80 * time.Millisecond}
	b := &stallingEndpoint{name: "b", failWith: down, delay: 80 * time.Millisecond}
	c := &stallingEndpoint{name: "c"}
	p := newStallPool(t, PoolConfig{FailureThreshold: 10, HedgeFloor: 20 * time.Millisecond}, a, b, c)
	seedLatency(p, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond)
	a.stall.Store(1)
	b.stall.Store(1)
	t0 := time.Now()
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatalf("call failed: %v", err)
	}
	// a fails at 80ms; its hedge on b (sent at 20ms) fails at 100ms; c answers.
	if took := time.Since(t0); took < 100*time.Millisecond || took > 2*time.Second {
		t.Fatalf("the call took %s", took)
	}
	ha, hb, hc := health(p, "a"), health(p, "b"), health(p, "c")
	if ha.Failures != 1 || hb.Failures != 1 || hc.Failures != 0 || hc.Requests != 1 || hb.Hedges != 1 || hb.HedgeWins != 0 {
		t.Fatalf("a %+v\nb %+v\nc %+v", ha, hb, hc)
	}
}

// delayEndpoint answers after its delay, or fails when its context ends
// first.
type delayEndpoint struct {
	name     string
	delay    atomic.Int64 // nanoseconds
	canceled atomic.Int64
}

func (f *delayEndpoint) URL() string   { return f.name }
func (f *delayEndpoint) Model() string { return "m" }

func (f *delayEndpoint) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	t := time.NewTimer(time.Duration(f.delay.Load()))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		f.canceled.Add(1)
		return nil, fault.Server(ctx.Err(), 0)
	}
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

// A slow request that answers before its hedge wins; the hedge is
// canceled and counts nothing against its endpoint.
func TestPoolHedgeLosesToTheSlowRequest(t *testing.T) {
	a, b := &delayEndpoint{name: "a"}, &delayEndpoint{name: "b"}
	ems := []Embedder{a, b}
	p, err := NewPool(ems, PoolConfig{HedgeFloor: 30 * time.Millisecond, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	seedLatency(p, time.Millisecond, 2*time.Millisecond)
	a.delay.Store(int64(80 * time.Millisecond))
	b.delay.Store(int64(5 * time.Second))
	t0 := time.Now()
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < 80*time.Millisecond || took > time.Second {
		t.Fatalf("the call took %s", took)
	}
	eventually(t, "the hedge to be canceled", func() bool { return b.canceled.Load() == 1 })
	eventually(t, "nothing in flight", func() bool { return health(p, "b").InFlight == 0 })
	ha, hb := health(p, "a"), health(p, "b")
	if ha.Hedged != 1 || hb.Hedges != 1 || hb.HedgeWins != 0 || hb.Failures != 0 || ha.Failures != 0 {
		t.Fatalf("a %+v\nb %+v", ha, hb)
	}
}

// A hedge never goes to an endpoint whose breaker is open: with the other
// endpoint out, the hedge goes to the same one.
func TestPoolHedgeSkipsOpenBreakers(t *testing.T) {
	a, b := &stallingEndpoint{name: "a"}, &stallingEndpoint{name: "b"}
	p := newStallPool(t, PoolConfig{}, a, b)
	seedLatency(p, time.Millisecond, 2*time.Millisecond)
	p.mu.Lock()
	p.eps[1].state, p.eps[1].until = BreakerOpen, time.Now().Add(time.Hour)
	p.mu.Unlock()
	a.stall.Store(1)
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if ha, hb := health(p, "a"), health(p, "b"); ha.Hedges != 1 || ha.HedgeWins != 1 || hb.Requests != 0 || b.calls.Load() != 0 {
		t.Fatalf("a %+v\nb %+v", ha, hb)
	}
}

func TestLatencyWindowP99(t *testing.T) {
	var w latencyWindow
	for i := range HedgeMinSamples - 1 {
		w.add(time.Duration(i+1) * time.Millisecond)
	}
	if w.percentile99() != 0 {
		t.Fatal("p99 before enough samples")
	}
	w = latencyWindow{}
	for i := range 100 {
		w.add(time.Duration(i+1) * time.Millisecond)
	}
	if got := w.percentile99(); got != 99*time.Millisecond {
		t.Fatalf("p99 of 1..100ms: %s", got)
	}
	// The window slides: old samples go.
	for range HedgeWindow {
		w.add(time.Millisecond)
	}
	if got := w.percentile99(); got != time.Millisecond {
		t.Fatalf("p99 after the window slid: %s", got)
	}
}

// A hung request whose hedge could not be sent when its wait ran out (the
// budget was spent, or the endpoint's breaker was open) tries again while
// it hangs, instead of waiting out its timeout: with one endpoint, a hang
// at such a moment held its inputs for the whole request timeout.
func TestPoolHedgeRetriesWhenItCouldNotBeSent(t *testing.T) {
	a := &stallingEndpoint{name: "a"}
	p := newStallPool(t, PoolConfig{HedgeBurst: 1, HedgeBudget: 0.1, HedgeFloor: 10 * time.Millisecond}, a)
	warmUp(t, p)
	// Spend the one token: a call whose request and hedge both hang.
	a.stall.Store(2)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	if _, err := p.Embed(ctx, inputs(1)); err == nil {
		t.Fatal("a hung call succeeded")
	}
	cancel()
	eventually(t, "nothing in flight", func() bool { return health(p, "a").InFlight == 0 })
	if h := health(p, "a"); h.Hedges != 1 {
		t.Fatalf("want the token spent on one hedge, got %+v", h)
	}
	// Now a request hangs while no token is left.
	a.stall.Store(1)
	calls := a.calls.Load()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := p.Embed(ctx, inputs(1))
		done <- err
	}()
	eventually(t, "the hung request", func() bool { return a.calls.Load() > calls })
	time.Sleep(100 * time.Millisecond) // its wait ran out with no token
	// Other requests earn a token back.
	for range 10 {
		if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the hung call failed: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the hung request was not hedged once a token was back")
	}
	if h := health(p, "a"); h.Hedges != 2 || h.HedgeWins != 1 {
		t.Fatalf("health %+v", h)
	}
}

// scriptedEndpoint answers its calls in turn: "hang" waits for the
// context, "fail" returns a server error, anything else answers.
type scriptedEndpoint struct {
	mu     sync.Mutex
	script []string
	calls  int
}

func (f *scriptedEndpoint) URL() string   { return "s" }
func (f *scriptedEndpoint) Model() string { return "m" }

func (f *scriptedEndpoint) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	f.mu.Lock()
	step := ""
	if f.calls < len(f.script) {
		step = f.script[f.calls]
	}
	f.calls++
	f.mu.Unlock()
	switch step {
	case "hang":
		<-ctx.Done()
		return nil, fault.Server(ctx.Err(), 0)
	case "fail":
		return nil, fault.Server(errors.New("500 Internal Server Error"), 0)
	case "slow-fail": // fails after its hedge was sent
		time.Sleep(100 * time.Millisecond)
		return nil, fault.Server(errors.New("500 Internal Server Error"), 0)
	}
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

// A hedge that fails while the hung request still runs is not the end of
// hedging for it: it is hedged again, instead of waiting out its timeout.
func TestPoolHedgesAgainAfterAFailedHedge(t *testing.T) {
	ep := &scriptedEndpoint{}
	p, err := NewPool([]Embedder{ep}, PoolConfig{Logger: quietLogger, HedgeFloor: 10 * time.Millisecond, FailureThreshold: 100})
	if err != nil {
		t.Fatal(err)
	}
	seedLatency(p, time.Millisecond)
	ep.mu.Lock()
	ep.script = []string{"hang", "fail", "ok"}
	ep.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := p.Embed(ctx, inputs(2)); err != nil {
		t.Fatalf("the call failed: %v (calls %d)", err, ep.calls)
	}
	if h := health(p, "s"); h.Hedges != 2 || h.HedgeWins != 1 {
		t.Fatalf("health %+v", h)
	}

	// The other way round: the request fails while its hedge hangs.
	ep.mu.Lock()
	ep.script, ep.calls = []string{"slow-fail", "hang", "ok"}, 0
	ep.mu.Unlock()
	if _, err := p.Embed(ctx, inputs(2)); err != nil {
		t.Fatalf("the call failed: %v (calls %d)", err, ep.calls)
	}
}
