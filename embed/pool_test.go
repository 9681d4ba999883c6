package embed

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// fakeEndpoint is an in-process Embedder whose behaviour tests control.
type fakeEndpoint struct {
	name, model string
	started     chan<- string // if set, receives name when a call begins
	gate        chan struct{} // if set, a call waits for it (or ctx)
	delay       time.Duration

	mu    sync.Mutex
	calls int
	err   error // returned by every call while set
}

func (f *fakeEndpoint) URL() string   { return f.name }
func (f *fakeEndpoint) Model() string { return f.model }

func (f *fakeEndpoint) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeEndpoint) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeEndpoint) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	f.mu.Lock()
	f.calls++
	err := f.err
	f.mu.Unlock()
	if f.started != nil {
		f.started <- f.name
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, fault.Server(ctx.Err(), 0)
		}
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

func newFakes(names ...string) []*fakeEndpoint {
	out := make([]*fakeEndpoint, len(names))
	for i, n := range names {
		out[i] = &fakeEndpoint{name: n, model: "m"}
	}
	return out
}

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestPool(t *testing.T, fakes []*fakeEndpoint, cfg PoolConfig) (*Pool, *fakeClock) {
	t.Helper()
	ems := make([]Embedder, len(fakes))
	for i, f := range fakes {
		ems[i] = f
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	p, err := NewPool(ems, cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	p.now = clk.now
	return p, clk
}

var errDown = errors.New("connection refused")

func serverErr(ra time.Duration) error { return fault.Server(errDown, ra) }

func health(p *Pool, name string) EndpointHealth {
	for _, h := range p.Health() {
		if h.Name == name {
			return h
		}
	}
	return EndpointHealth{}
}

func TestPoolLeastLoaded(t *testing.T) {
	started := make(chan string, 16)
	gate := make(chan struct{})
	fakes := newFakes("a", "b", "c")
	for _, f := range fakes {
		f.started, f.gate = started, gate
	}
	p, _ := newTestPool(t, fakes, PoolConfig{})
	var wg sync.WaitGroup
	counts := map[string]int{}
	for call := range 6 {
		wg.Go(func() {
			if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
				t.Error(err)
			}
		})
		// Wait until the call holds an endpoint before making the next.
		counts[<-started]++
		if call == 2 {
			for _, h := range p.Health() {
				if h.InFlight != 1 {
					t.Fatalf("after 3 calls: %+v", p.Health())
				}
			}
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if counts[n] != 2 {
			t.Fatalf("calls per endpoint %v, want 2 each", counts)
		}
	}
	close(gate)
	wg.Wait()
	for _, h := range p.Health() {
		if h.InFlight != 0 || h.Requests != 2 || h.State != BreakerClosed || h.Latency <= 0 {
			t.Fatalf("health %+v", h)
		}
	}
}

func TestPoolPrefersLowLatency(t *testing.T) {
	fakes := newFakes("slow", "fast")
	fakes[0].delay = 20 * time.Millisecond
	p, _ := newTestPool(t, fakes, PoolConfig{})
	for range 12 {
		if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
			t.Fatal(err)
		}
	}
	// The first call goes to "slow" (no latency known, first in turn);
	// then "fast" is tried (no latency known) and wins every later call.
	if s, f := fakes[0].callCount(), fakes[1].callCount(); s != 1 || f != 11 {
		t.Fatalf("slow %d calls, fast %d", s, f)
	}
}

func TestPoolRoundRobinOnTies(t *testing.T) {
	fakes := newFakes("a", "b", "c")
	p, _ := newTestPool(t, fakes, PoolConfig{})
	// Calls fail with a record error: the server answered, no latency is
	// recorded, so every endpoint stays tied.
	rec := fault.RecordAt(0, errors.New("bad input"))
	for _, f := range fakes {
		f.setErr(rec)
	}
	for range 9 {
		if _, err := p.Embed(t.Context(), inputs(1)); !errors.Is(err, rec) {
			t.Fatalf("error %v", err)
		}
	}
	for _, f := range fakes {
		if f.callCount() != 3 {
			t.Fatalf("%s: %d calls, want 3", f.name, f.callCount())
		}
	}
}

func TestPoolFailsOverOnServerError(t *testing.T) {
	fakes := newFakes("a", "b", "c")
	fakes[0].setErr(serverErr(0))
	fakes[1].setErr(serverErr(0))
	p, _ := newTestPool(t, fakes, PoolConfig{})
	vs, err := p.Embed(t.Context(), inputs(2))
	if err != nil || len(vs) != 2 {
		t.Fatalf("%v %v", vs, err)
	}
	for _, f := range fakes {
		if f.callCount() != 1 {
			t.Fatalf("%s: %d calls", f.name, f.callCount())
		}
	}
	if h := health(p, "a"); h.ConsecutiveFailures != 1 || h.Failures != 1 || h.State != BreakerClosed {
		t.Fatalf("a: %+v", h)
	}

	// When every endpoint fails, each is tried once and the last error is
	// wrapped.
	fakes[2].setErr(serverErr(0))
	_, err = p.Embed(t.Context(), inputs(2))
	wantClass(t, err, fault.ClassServer, -1)
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "all 3 endpoints") {
		t.Fatalf("error %v", err)
	}
	for _, f := range fakes {
		if f.callCount() != 2 {
			t.Fatalf("%s: %d calls", f.name, f.callCount())
		}
	}
}

func TestPoolDoesNotRetryInputErrors(t *testing.T) {
	for _, err := range []error{
		fault.RecordAt(1, errors.New("input 1 is invalid")),
		fault.Record(errors.New("invalid")),
		fault.Batch(errors.New("413")),
		errors.Join(ErrUnauthorized, errors.New("401")),
		fault.RecordAt(0, ErrInputTooLong),
	} {
		fakes := newFakes("a", "b")
		fakes[0].setErr(err)
		p, _ := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
		_, got := p.Embed(t.Context(), inputs(2))
		if got != err {
			t.Fatalf("got %v, want %v unchanged", got, err)
		}
		if fakes[1].callCount() != 0 {
			t.Fatalf("%v: retried on b", err)
		}
		if h := health(p, "a"); h.State != BreakerClosed || h.Failures != 0 {
			t.Fatalf("%v: a %+v", err, h)
		}
	}
}

func TestPoolCancellationIsNotAFailure(t *testing.T) {
	fakes := newFakes("a", "b")
	fakes[0].gate = make(chan struct{})
	started := make(chan string, 1)
	fakes[0].started = started
	p, _ := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, err := p.Embed(ctx, inputs(1))
	if !fault.IsCanceled(err) || fakes[1].callCount() != 0 {
		t.Fatalf("error %v, b %d calls", err, fakes[1].callCount())
	}
	if h := health(p, "a"); h.State != BreakerClosed || h.Failures != 0 || h.InFlight != 0 {
		t.Fatalf("a %+v", h)
	}
	if _, err := p.Embed(ctx, inputs(1)); !fault.IsCanceled(err) || fakes[0].callCount() != 1 {
		t.Fatalf("canceled before: %v", err)
	}
}

func TestPoolBreaker(t *testing.T) {
	var logs logBuffer
	fakes := newFakes("a")
	fakes[0].setErr(serverErr(0))
	p, clk := newTestPool(t, fakes, PoolConfig{MinBackoff: time.Second, MaxBackoff: 3 * time.Second, Logger: logs.logger()})

	// A pool of one returns the endpoint's own errors until the breaker
	// opens, at the third in a row.
	for i := range 3 {
		if _, err := p.Embed(t.Context(), inputs(1)); !errors.Is(err, errDown) || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	h := health(p, "a")
	if h.State != BreakerOpen || h.ConsecutiveFailures != 3 || h.Failures != 3 {
		t.Fatalf("after 3 failures: %+v", h)
	}
	if d := h.RetryAt.Sub(clk.now()); d < 800*time.Millisecond || d > time.Second {
		t.Fatalf("first backoff %s, want 0.8s-1s", d)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "breaker open") {
		t.Fatalf("logs: %s", logs.String())
	}

	// Open: nothing is sent.
	_, err := p.Embed(t.Context(), inputs(1))
	wantClass(t, err, fault.ClassServer, -1)
	if !errors.Is(err, ErrCircuitOpen) || fakes[0].callCount() != 3 {
		t.Fatalf("open: %v, %d calls", err, fakes[0].callCount())
	}
	if ra := fault.RetryAfterOf(err); ra != h.RetryAt.Sub(clk.now()) {
		t.Fatalf("Retry-After %s, want %s", ra, h.RetryAt.Sub(clk.now()))
	}

	// After the backoff one probe goes through; it fails: open for longer.
	clk.advance(time.Second)
	if health(p, "a").State != BreakerHalfOpen {
		t.Fatalf("after backoff: %+v", health(p, "a"))
	}
	if _, err := p.Embed(t.Context(), inputs(1)); !errors.Is(err, errDown) || fakes[0].callCount() != 4 {
		t.Fatalf("probe: %v, %d calls", err, fakes[0].callCount())
	}
	h = health(p, "a")
	if d := h.RetryAt.Sub(clk.now()); h.State != BreakerOpen || d < 1600*time.Millisecond || d > 2*time.Second {
		t.Fatalf("after a failed probe: %+v (backoff %s, want 1.6s-2s)", h, d)
	}
	clk.advance(2 * time.Second)
	_, _ = p.Embed(t.Context(), inputs(1)) // fails again: 3s (the maximum)
	h = health(p, "a")
	if d := h.RetryAt.Sub(clk.now()); d < 2400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("third backoff %s, want 2.4s-3s", d)
	}

	// The server recovers: the next probe closes the breaker.
	fakes[0].setErr(nil)
	clk.advance(3 * time.Second)
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if h := health(p, "a"); h.State != BreakerClosed || h.ConsecutiveFailures != 0 || !h.RetryAt.IsZero() {
		t.Fatalf("after a good probe: %+v", h)
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "breaker closed") {
		t.Fatalf("logs: %s", logs.String())
	}
	// And the backoff starts over.
	fakes[0].setErr(serverErr(0))
	for range 3 {
		_, _ = p.Embed(t.Context(), inputs(1))
	}
	if d := health(p, "a").RetryAt.Sub(clk.now()); d > time.Second {
		t.Fatalf("backoff after a close %s", d)
	}
}

func TestPoolSingleProbe(t *testing.T) {
	fakes := newFakes("a")
	fakes[0].setErr(serverErr(0))
	p, clk := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
	_, _ = p.Embed(t.Context(), inputs(1))
	clk.advance(time.Minute)

	gate := make(chan struct{})
	started := make(chan string, 1)
	fakes[0].gate, fakes[0].started = gate, started
	fakes[0].setErr(nil)
	done := make(chan error)
	go func() {
		_, err := p.Embed(t.Context(), inputs(1))
		done <- err
	}()
	<-started
	// While the probe is in flight no other call is let through.
	_, err := p.Embed(t.Context(), inputs(1))
	if !errors.Is(err, ErrCircuitOpen) || fakes[0].callCount() != 2 {
		t.Fatalf("during the probe: %v, %d calls", err, fakes[0].callCount())
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := health(p, "a"); h.State != BreakerClosed {
		t.Fatalf("after the probe: %+v", h)
	}
}

func TestPoolHonoursRetryAfter(t *testing.T) {
	fakes := newFakes("a")
	fakes[0].setErr(serverErr(10 * time.Second))
	p, clk := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
	_, err := p.Embed(t.Context(), inputs(1))
	if fault.RetryAfterOf(err) != 10*time.Second {
		t.Fatalf("the endpoint's error is not returned as is: %v", err)
	}
	if d := health(p, "a").RetryAt.Sub(clk.now()); d != 10*time.Second {
		t.Fatalf("backoff %s, want the Retry-After", d)
	}
}

func TestPoolAllOpen(t *testing.T) {
	fakes := newFakes("a", "b")
	fakes[0].setErr(serverErr(0))
	fakes[1].setErr(serverErr(5 * time.Second))
	p, clk := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1, MinBackoff: time.Second, MaxBackoff: 30 * time.Second})
	_, err := p.Embed(t.Context(), inputs(1))
	wantClass(t, err, fault.ClassServer, -1)
	// a is open for ≤ 1s, b for 5s: the pool may be tried again in ≤ 1s.
	if ra := fault.RetryAfterOf(err); ra < 800*time.Millisecond || ra > time.Second {
		t.Fatalf("Retry-After %s", ra)
	}
	clk.advance(100 * time.Millisecond)
	for range 3 {
		_, err = p.Embed(t.Context(), inputs(1))
		if !errors.Is(err, ErrCircuitOpen) || fault.ClassOf(err) != fault.ClassServer {
			t.Fatalf("all open: %v", err)
		}
	}
	if ra := fault.RetryAfterOf(err); ra < 700*time.Millisecond || ra > 900*time.Millisecond {
		t.Fatalf("Retry-After %s", ra)
	}
	if a, b := fakes[0].callCount(), fakes[1].callCount(); a != 1 || b != 1 {
		t.Fatalf("calls sent while open: a %d, b %d", a, b)
	}
	// After a's backoff, a is probed (and recovers); b stays out.
	fakes[0].setErr(nil)
	clk.advance(time.Second)
	if _, err := p.Embed(t.Context(), inputs(1)); err != nil {
		t.Fatal(err)
	}
	if a, b := health(p, "a"), health(p, "b"); a.State != BreakerClosed || b.State != BreakerOpen {
		t.Fatalf("a %+v, b %+v", a, b)
	}
}

func TestPoolStaleResultsDoNotMoveTheBreaker(t *testing.T) {
	fakes := newFakes("a")
	gate := make(chan struct{})
	started := make(chan string, 8)
	fakes[0].gate, fakes[0].started = gate, started
	fakes[0].setErr(serverErr(0))
	p, _ := newTestPool(t, fakes, PoolConfig{FailureThreshold: 2})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _ = p.Embed(t.Context(), inputs(1)) })
		<-started
	}
	// Release the calls one at a time: the second failure opens the
	// breaker; the two after it were sent before and change nothing.
	var retryAt time.Time
	for i := range 4 {
		gate <- struct{}{}
		for health(p, "a").InFlight != 3-i {
			time.Sleep(time.Millisecond)
		}
		if i == 1 {
			retryAt = health(p, "a").RetryAt
		}
	}
	wg.Wait()
	h := health(p, "a")
	if h.State != BreakerOpen || h.RetryAt != retryAt || h.Failures != 4 || h.ConsecutiveFailures != 2 {
		t.Fatalf("%+v (opened until %s)", h, retryAt)
	}
}

func TestNewPool(t *testing.T) {
	if _, err := NewPool(nil, PoolConfig{}); err == nil {
		t.Fatal("empty pool")
	}
	if _, err := NewPool([]Embedder{NewHash(8), nil}, PoolConfig{}); err == nil {
		t.Fatal("nil endpoint")
	}
	if _, err := NewPool([]Embedder{NewHash(8), NewHash(16)}, PoolConfig{}); err == nil || !strings.Contains(err.Error(), "hash-16") {
		t.Fatalf("different models: %v", err)
	}
	for _, cfg := range []PoolConfig{{FailureThreshold: -1}, {MinBackoff: -1}, {MinBackoff: time.Second, MaxBackoff: time.Millisecond}} {
		if _, err := NewPool([]Embedder{NewHash(8)}, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	p, err := NewPool([]Embedder{NewHash(8), NewHash(8)}, PoolConfig{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if p.Model() != "hash-8" {
		t.Fatalf("model %q", p.Model())
	}
	if h := p.Health(); h[0].Name != "hash-8" || h[1].Name != "hash-8#2" {
		t.Fatalf("names %q %q", h[0].Name, h[1].Name)
	}
	if vs, err := p.Embed(t.Context(), nil); err != nil || len(vs) != 0 {
		t.Fatalf("empty: %v %v", vs, err)
	}
	if b, _ := BreakerHalfOpen.MarshalText(); string(b) != "half-open" {
		t.Fatalf("%s", b)
	}
}

// A probe goes around the breakers: an endpoint whose breaker a toxic input
// opened answers the probe, and its breaker closes.
func TestProbeClosesBreakerOfAnsweringEndpoint(t *testing.T) {
	fakes := newFakes("a")
	p, _ := newTestPool(t, fakes, PoolConfig{FailureThreshold: 1})
	fakes[0].setErr(fault.Server(errors.New("HTTP 500"), 0))
	if _, err := p.Embed(t.Context(), []string{"toxic"}); err == nil {
		t.Fatal("want a server error")
	}
	if st := p.Health()[0].State; st != BreakerOpen {
		t.Fatalf("breaker %v after a failure at threshold 1", st)
	}
	if _, err := p.Embed(t.Context(), []string{"x"}); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Embed through an open breaker: %v", err)
	}
	fakes[0].setErr(nil)
	if err := p.Probe(t.Context(), "probe"); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if st := p.Health()[0].State; st != BreakerClosed {
		t.Fatalf("breaker %v after a successful probe", st)
	}
	fakes[0].setErr(fault.Server(errors.New("HTTP 500"), 0))
	if err := p.Probe(t.Context(), "probe"); err == nil || fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("Probe of a failing endpoint: %v", err)
	}
}
