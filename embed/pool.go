package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ragpipe/ragpipe/fault"
)

// Defaults of PoolConfig. The backoff stays short: an endpoint that comes
// back is probed within DefaultMaxBackoff, which bounds how long work takes
// to resume after an outage (a probe is one small request).
const (
	DefaultFailureThreshold = 3
	DefaultMinBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff       = 3 * time.Second
)

// ErrCircuitOpen is wrapped by the (fault.Server) error a Pool returns,
// without sending anything, when no endpoint can take a call because every
// breaker is open.
var ErrCircuitOpen = errors.New("embed: circuit breaker open")

// latencyWeight is the weight of a new sample in an endpoint's latency
// EWMA.
const latencyWeight = 0.2

// PoolConfig configures a Pool.
type PoolConfig struct {
	// FailureThreshold is how many server errors in a row open an
	// endpoint's breaker. Default 3.
	FailureThreshold int
	// An open breaker keeps its endpoint out for MinBackoff the first
	// time, twice as long after each failed probe, at most MaxBackoff;
	// each delay is shortened by up to a fifth at random (so that
	// endpoints that failed together are not probed together) but never
	// below the endpoint's Retry-After. Defaults 250ms and 3s
	// (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// A request that has run for HedgeMultiplier times its endpoint's p99
	// latency (over its last HedgeWindow successful requests), and at
	// least HedgeFloor, is hedged: sent again, the first answer winning.
	// Before the endpoint has answered HedgeMinSamples requests only a
	// request that has run for 8 × HedgeFloor is hedged. Defaults 3 and
	// 250ms; HedgeOff (any negative
	// HedgeMultiplier) turns hedging off.
	HedgeMultiplier float64
	HedgeFloor      time.Duration
	// HedgeBudget is the share of requests that may be hedged, beyond a
	// burst of HedgeBurst hedges (a token bucket), so that an overloaded
	// server is not sent a storm of hedges. Defaults 0.1 and 10.
	HedgeBudget float64
	HedgeBurst  int
	// After BatchProbeAfter requests at a learned batch limit succeed, the
	// limit is raised halfway towards the smallest size that failed, but
	// never to a size that failed less than BatchLimitMemory ago (then it
	// doubles). Defaults 256 and 10 minutes.
	BatchProbeAfter  int
	BatchLimitMemory time.Duration
	// Logger receives breaker state changes. Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c PoolConfig) WithDefaults() PoolConfig {
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.HedgeMultiplier == 0 {
		c.HedgeMultiplier = DefaultHedgeMultiplier
	}
	if c.HedgeFloor == 0 {
		c.HedgeFloor = DefaultHedgeFloor
	}
	if c.HedgeBudget == 0 {
		c.HedgeBudget = DefaultHedgeBudget
	}
	if c.HedgeBurst == 0 {
		c.HedgeBurst = DefaultHedgeBurst
	}
	if c.BatchProbeAfter == 0 {
		c.BatchProbeAfter = DefaultBatchProbeAfter
	}
	if c.BatchLimitMemory == 0 {
		c.BatchLimitMemory = DefaultBatchLimitMemory
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether c is usable. Call it on c.WithDefaults().
func (c PoolConfig) Validate() error {
	switch {
	case c.FailureThreshold <= 0:
		return fmt.Errorf("embed: failure threshold %d is not positive", c.FailureThreshold)
	case c.MinBackoff <= 0:
		return fmt.Errorf("embed: min backoff %s is not positive", c.MinBackoff)
	case c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("embed: max backoff %s is below min backoff %s", c.MaxBackoff, c.MinBackoff)
	case c.HedgeFloor < 0:
		return fmt.Errorf("embed: negative hedge floor %s", c.HedgeFloor)
	case !(c.HedgeBudget > 0 && c.HedgeBudget <= 1):
		return fmt.Errorf("embed: hedge budget %v is not in (0, 1]", c.HedgeBudget)
	case c.HedgeBurst < 1:
		return fmt.Errorf("embed: hedge burst %d is below 1", c.HedgeBurst)
	case c.BatchProbeAfter < 1:
		return fmt.Errorf("embed: batch probe after %d is below 1", c.BatchProbeAfter)
	case c.BatchLimitMemory < 0:
		return fmt.Errorf("embed: negative batch limit memory %s", c.BatchLimitMemory)
	}
	return nil
}

// BreakerState is the state of an endpoint's circuit breaker.
type BreakerState int

const (
	// BreakerClosed: the endpoint takes calls.
	BreakerClosed BreakerState = iota
	// BreakerOpen: the endpoint failed; it takes no call until its backoff
	// ends.
	BreakerOpen
	// BreakerHalfOpen: the backoff has ended; the next call (only one) is
	// a probe whose outcome closes or reopens the breaker.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	default:
		return "closed"
	}
}

// MarshalText encodes s as its String, for JSON and logs.
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// EndpointHealth is a snapshot of one endpoint of a Pool.
type EndpointHealth struct {
	// Name is the endpoint's URL (for OpenAI and TEI clients) or model
	// name, with "#2", "#3"… appended to repeated names.
	Name  string
	State BreakerState
	// InFlight is the number of requests it is serving now.
	InFlight int
	// ConsecutiveFailures is the number of server errors in a row.
	ConsecutiveFailures int
	// Latency is the moving average of its successful requests' durations
	// (0 before the first).
	Latency time.Duration
	// Requests counts the requests sent to it (a call larger than its
	// batch limit makes several; hedges count too), Failures those that
	// failed with a server error.
	Requests int64
	Failures int64
	// RetryAt is when an open breaker lets a probe through; zero when
	// closed.
	RetryAt time.Time
	// BatchLimit is the most inputs sent to it in one request: the limit
	// learned from its batch errors, or its own (such as TEI's
	// max_client_batch_size); 0 means none.
	BatchLimit int
	// LatencyP99 is the p99 of its last HedgeWindow successful requests,
	// and HedgeAfter how long a request to it runs before it is hedged;
	// both 0 before HedgeMinSamples requests (HedgeAfter also when hedging
	// is off).
	LatencyP99 time.Duration
	HedgeAfter time.Duration
	// Hedged counts its requests that ran past HedgeAfter and were
	// hedged; Hedges the hedges sent to it, HedgeWins those that answered
	// first.
	Hedged    int64
	Hedges    int64
	HedgeWins int64
}

// Pool spreads Embed calls over several endpoints that serve the same
// model, with a circuit breaker per endpoint. It is an Embedder, safe for
// concurrent use.
//
// Each request goes to one endpoint: one whose breaker lets a probe
// through if there is one (see below), otherwise, among the endpoints whose
// breaker is closed, the one with the fewest requests in flight, then the
// lowest moving average of latency, then the next in turn.
//
// # Batch limits
//
// A call is sent in requests of at most the endpoint's batch limit, one
// after the other (so a call never holds more than one request in flight,
// and concurrency stays the caller's). The limit starts as the endpoint's
// own (its MaxInputs method, such as TEI's max_client_batch_size from
// /info, or Config.MaxInputs) and is learned from batch errors: when a
// request of n ≥ 2 inputs fails with one (413, or an out-of-memory
// answer), the limit drops to n/2 (or to the largest size that has passed,
// if that is between n/2 and n), and the same inputs are re-sent at once
// to the same endpoint in smaller requests, so the caller never sees the
// error and the first one costs a single extra request. The limit is
// logged at info when it changes, not per request. After
// PoolConfig.BatchProbeAfter requests at the limit have passed, one request
// (only one at a time) probes a larger size, halfway towards the smallest
// size that failed; a probe that fails leaves the limit as it was. A size
// that failed is not tried again for PoolConfig.BatchLimitMemory; after
// that the probe doubles the limit (at most to the endpoint's own). A
// single input that fails with a batch error is returned as is: the
// caller treats it as the record's fault. Record errors name the input's
// position in the caller's slice.
//
// # Hedging
//
// Once an endpoint has answered HedgeMinSamples requests, a request to it
// that has not been answered after PoolConfig.HedgeMultiplier times the
// p99 latency of its last HedgeWindow successful requests (and at least
// PoolConfig.HedgeFloor; before that, 8 × HedgeFloor) is hedged: the same inputs are sent to another
// endpoint whose breaker is closed, or when there is none to the same
// endpoint. The first answer wins; the other request's context is
// canceled and its outcome counts neither as a success nor as a failure
// of its endpoint. If one of the two fails with a server error, the other
// is awaited; if both fail, the call fails over as below. A call is
// hedged at most once, and hedges are budgeted by a token bucket
// (PoolConfig.HedgeBudget of the requests, beyond a burst of
// PoolConfig.HedgeBurst), so that an overloaded server is not sent a storm
// of duplicates. The endpoint's request timeout stays the backstop for a
// request that is not hedged. Health reports each endpoint's p99, hedge
// threshold and hedge counts.
//
// # Failure handling
//
// The endpoint's result is classified with package fault:
//
//   - Success, and record errors (the server answered: the trouble is the
//     input, which another endpoint would refuse too) are returned as is,
//     and reset the endpoint's count of failures; batch errors too, after
//     the re-sending described above.
//   - A server error counts a failure and the same inputs are sent at once
//     to another endpoint whose breaker is closed (or due for a probe),
//     each endpoint being tried at most once per request. When every
//     candidate has failed, the call returns the only error unchanged if
//     there was one attempt, or else a fault.Server error wrapping the
//     last, whose Retry-After is the time until some endpoint may be used
//     again (0 if one may be now).
//   - Errors that say nothing of the endpoint's health are returned at
//     once, without failover and without touching the breaker: the
//     caller's cancellation, fault.Fatal errors such as ErrUnauthorized
//     and ErrNotFound (a configuration error: the worker must stop) and
//     ErrInputTooLong (nothing was sent).
//
// After PoolConfig.FailureThreshold server errors in a row an endpoint's
// breaker opens (logged at warn): it takes no request for a backoff that
// starts at MinBackoff and doubles up to MaxBackoff, with jitter, and is
// never shorter than the Retry-After of the error that opened it. Then the
// breaker is half-open: the next request is sent there first, as the
// single probe; its success closes the breaker (logged at info), a server
// error reopens it for a longer backoff, and the request itself fails over
// as above. Results of requests sent before a state change do not change
// the state. When every breaker is open, Embed sends nothing and returns a
// fault.Server error wrapping ErrCircuitOpen whose Retry-After is the time
// until the first probe is due.
//
// A Pool of one endpoint behaves like that endpoint plus the breaker, the
// learned batch limit and hedging (on the same endpoint).
type Pool struct {
	cfg   PoolConfig
	log   *slog.Logger
	model string
	now   func() time.Time

	mu     sync.Mutex
	eps    []*endpoint
	rr     int // where the round-robin tie-break starts next
	budget hedgeBudget
}

// endpoint is the state of one endpoint, guarded by Pool.mu.
type endpoint struct {
	e    Embedder
	name string

	state       BreakerState
	gen         uint64 // changes with each state change
	probing     bool   // half-open and the probe is in flight
	consecutive int    // server errors in a row
	opens       int    // opens since the last close, for the backoff
	until       time.Time

	inFlight           int
	latency            time.Duration // EWMA
	requests, failures int64

	window                    latencyWindow
	hedged, hedges, hedgeWins int64
	limit                     learnedLimit
	maxInputs                 func() int // the endpoint's own limit; nil = none
}

// NewPool returns a Pool over endpoints, in order of preference for ties.
// All endpoints must report the same Model, which the Pool reports.
func NewPool(endpoints []Embedder, cfg PoolConfig) (*Pool, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(endpoints) == 0 {
		return nil, errors.New("embed: a pool needs at least one endpoint")
	}
	p := &Pool{cfg: cfg, log: cfg.Logger.With("component", "embed-pool"), now: time.Now}
	p.budget.tokens = float64(cfg.HedgeBurst)
	seen := make(map[string]int, len(endpoints))
	for i, e := range endpoints {
		if e == nil {
			return nil, fmt.Errorf("embed: pool endpoint %d is nil", i)
		}
		name := endpointName(e)
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, seen[name])
		}
		if i == 0 {
			p.model = e.Model()
		} else if m := e.Model(); m != p.model {
			return nil, fmt.Errorf("embed: pool endpoints serve different models: %s serves %q, %s serves %q (give the same model name to all)",
				p.eps[0].name, p.model, name, m)
		}
		ep := &endpoint{e: e, name: name}
		if m, ok := e.(interface{ MaxInputs() int }); ok {
			ep.maxInputs = m.MaxInputs
		}
		p.eps = append(p.eps, ep)
	}
	return p, nil
}

func endpointName(e Embedder) string {
	if u, ok := e.(interface{ URL() string }); ok {
		return u.URL()
	}
	return e.Model()
}

// Model returns the model all endpoints serve.
func (p *Pool) Model() string { return p.model }

// outcome is what a call's result says about the endpoint.
type outcome int

const (
	outcomeSuccess outcome = iota // the server answered
	outcomeFailure                // a server error: counts toward the breaker
	outcomeNeutral                // says nothing about the server
)

func classify(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return outcomeSuccess
	case ctx.Err() != nil && fault.IsCanceled(err),
		fault.ClassOf(err) == fault.ClassFatal,
		errors.Is(err, ErrUnauthorized),
		errors.Is(err, ErrInputTooLong):
		return outcomeNeutral
	case fault.ClassOf(err) == fault.ClassServer:
		return outcomeFailure
	default:
		return outcomeSuccess
	}
}

// callState is what one Embed call has used up.
type callState struct {
	hedged bool // a request of the call was hedged
}

// Embed sends inputs to the best endpoint, in requests of at most the
// endpoint's batch limit, hedging slow requests and failing over to the
// other endpoints on server errors; see Pool.
func (p *Pool) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	if len(inputs) == 0 {
		return [][]float32{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fault.Server(fmt.Errorf("embed: pool: not sent: %w", err), 0)
	}
	var st callState
	out := make([][]float32, 0, len(inputs))
	for len(out) < len(inputs) {
		base := len(out)
		vecs, err := p.embedPart(ctx, inputs[base:], &st)
		if err != nil {
			return nil, offsetIndex(err, base)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// embedPart sends one request for a prefix of rest, failing over and
// re-sending smaller requests after a batch error, and returns the vectors
// of that prefix.
func (p *Pool) embedPart(ctx context.Context, rest []string, st *callState) ([][]float32, error) {
	tried := make([]bool, len(p.eps))
	hints := make([]time.Duration, len(p.eps)) // Retry-After by endpoint
	var (
		lastErr  error
		lastName string
		attempts int
		resplits int
		again    = -1 // endpoint to re-send to after a batch error
	)
	for {
		i, gen, wait, ok := p.reacquire(again)
		if !ok {
			i, gen, wait, ok = p.acquire(tried)
		}
		if !ok {
			if attempts == 0 {
				why := "a probe is in flight"
				if wait > 0 {
					why = "the first probe is due in " + wait.Round(time.Millisecond).String()
				}
				return nil, fault.Server(fmt.Errorf("%w: none of the %d endpoints takes calls (%s)",
					ErrCircuitOpen, len(p.eps), why), wait)
			}
			break
		}
		again = -1
		win, won, failed := p.race(ctx, i, gen, rest, tried, st)
		for _, f := range failed {
			tried[f.ep] = true
			hints[f.ep] = fault.RetryAfterOf(f.err)
			attempts++
			lastErr, lastName = f.err, p.eps[f.ep].name
		}
		if !won {
			continue
		}
		if win.err != nil && win.n > 1 && fault.ClassOf(win.err) == fault.ClassBatch && resplits < maxResplits {
			// The endpoint's limit has dropped (see release): re-send
			// there in smaller requests.
			resplits++
			again = win.ep
			continue
		}
		if win.err == nil && (len(win.vecs) != win.n || win.n == 0) {
			return nil, fault.Server(fmt.Errorf("embed: pool: %s returned %d vectors for %d inputs",
				p.eps[win.ep].name, len(win.vecs), win.n), 0)
		}
		return win.vecs, win.err
	}
	if attempts == 1 {
		return nil, lastErr
	}
	ra := p.retryAfter(tried, hints)
	return nil, fault.Server(fmt.Errorf("embed: pool: all %d endpoints tried failed; the last, %s: %w", attempts, lastName, lastErr), ra)
}

// chunkLocked returns how many of n inputs to send ep in the next
// request, and whether that request probes a larger batch limit.
func (p *Pool) chunkLocked(ep *endpoint, n int) (int, bool) {
	return ep.limit.chunk(n, ep.ceiling())
}

// ceiling returns the endpoint's own batch limit, or 0.
func (ep *endpoint) ceiling() int {
	if ep.maxInputs == nil {
		return 0
	}
	return ep.maxInputs()
}

// reacquire counts another call in flight on endpoint i (if i ≥ 0) when
// its breaker lets one through without a probe.
func (p *Pool) reacquire(i int) (int, uint64, time.Duration, bool) {
	if i < 0 {
		return 0, 0, 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := p.eps[i]
	if ep.state != BreakerClosed {
		return 0, 0, 0, false
	}
	ep.inFlight++
	ep.requests++
	return i, ep.gen, 0, true
}

// acquire picks the endpoint for the next attempt, skipping those already
// tried, and counts the call in flight. It returns the endpoint's index and
// generation, or ok false and the time until an open breaker lets a probe
// through (0 if none will).
func (p *Pool) acquire(tried []bool) (i int, gen uint64, wait time.Duration, ok bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	// A breaker due for a probe goes first, the longest due first.
	for j, ep := range p.eps {
		if tried[j] {
			continue
		}
		if ep.state == BreakerOpen && !now.Before(ep.until) {
			ep.state, ep.probing = BreakerHalfOpen, false
			ep.gen++
			p.log.Debug("embedding endpoint's backoff is over; next call probes it", "endpoint", ep.name)
		}
		if ep.state == BreakerHalfOpen && !ep.probing && (best < 0 || ep.until.Before(p.eps[best].until)) {
			best = j
		}
	}
	if best >= 0 {
		p.eps[best].probing = true
	} else {
		n := len(p.eps)
		start := p.rr % n
		p.rr = (p.rr + 1) % n
		for k := range n {
			j := (start + k) % n
			ep := p.eps[j]
			if tried[j] || ep.state != BreakerClosed {
				continue
			}
			if best < 0 {
				best = j
				continue
			}
			b := p.eps[best]
			if ep.inFlight < b.inFlight || (ep.inFlight == b.inFlight && ep.latency < b.latency) {
				best = j
			}
		}
	}
	if best < 0 {
		for j, ep := range p.eps {
			if !tried[j] && ep.state == BreakerOpen {
				if d := ep.until.Sub(now); wait == 0 || d < wait {
					wait = d
				}
			}
		}
		return 0, 0, max(wait, 0), false
	}
	ep := p.eps[best]
	ep.inFlight++
	ep.requests++
	return best, ep.gen, 0, true
}

// release records the outcome of a request of n inputs to endpoint i
// acquired at generation gen, moves its breaker and its batch limit.
func (p *Pool) release(i int, gen uint64, took time.Duration, o outcome, err error, n int, probe bool) {
	var logf func()
	p.mu.Lock()
	ep := p.eps[i]
	ep.inFlight--
	current := gen == ep.gen
	switch o {
	case outcomeSuccess:
		if err == nil { // vectors, not a refusal of the input
			if ep.latency == 0 {
				ep.latency = took
			} else {
				ep.latency += time.Duration(latencyWeight * float64(took-ep.latency))
			}
			ep.window.add(took)
			from, to := ep.limit.succeeded(n, ep.ceiling(), p.cfg.BatchProbeAfter, probe, p.now(), p.cfg.BatchLimitMemory)
			if to != from {
				logf = p.limitLog(ep.name, from, to, fmt.Sprintf("a request of %d inputs passed", n), nil)
			}
		} else if n > 1 && fault.ClassOf(err) == fault.ClassBatch {
			from, to := ep.limit.failed(n, ep.ceiling(), probe, p.now(), p.cfg.BatchLimitMemory)
			if to != from {
				logf = p.limitLog(ep.name, from, to, fmt.Sprintf("a request of %d inputs was too big", n), err)
			} else if probe {
				name := ep.name
				logf = func() {
					p.log.Debug("embedding endpoint refused a larger batch; limit kept", "endpoint", name, "limit", from, "tried", n)
				}
			}
		} else {
			ep.limit.ended(probe)
		}
		if !current {
			break
		}
		ep.consecutive = 0
		if ep.state == BreakerHalfOpen {
			ep.state, ep.probing, ep.opens = BreakerClosed, false, 0
			ep.gen++
			name, limitf := ep.name, logf
			logf = func() {
				if limitf != nil {
					limitf()
				}
				p.log.Info("embedding endpoint recovered; breaker closed", "endpoint", name)
			}
		}
	case outcomeFailure:
		ep.limit.ended(probe)
		ep.failures++
		if !current {
			break
		}
		ep.consecutive++
		if ep.state == BreakerHalfOpen || ep.consecutive >= p.cfg.FailureThreshold {
			logf = p.openLocked(ep, fault.RetryAfterOf(err), err)
		}
	case outcomeNeutral:
		ep.limit.ended(probe)
		if current && ep.state == BreakerHalfOpen {
			ep.probing = false // let another call probe
		}
	}
	p.mu.Unlock()
	if logf != nil {
		logf()
	}
}

// limitLog returns the log call for a change of an endpoint's batch limit
// (0: none).
func (p *Pool) limitLog(name string, from, to int, why string, err error) func() {
	return func() {
		args := []any{"endpoint", name, "from", from, "to", to, "reason", why}
		if err != nil {
			args = append(args, "err", err)
		}
		p.log.Info("embedding endpoint's batch limit changed", args...)
	}
}

// openLocked opens ep's breaker and returns the log call to make once
// p.mu is released.
func (p *Pool) openLocked(ep *endpoint, retryAfter time.Duration, err error) func() {
	probeFailed := ep.state == BreakerHalfOpen
	ep.opens++
	d := p.cfg.MinBackoff
	for k := 1; k < ep.opens && d < p.cfg.MaxBackoff; k++ {
		d *= 2
	}
	d = min(d, p.cfg.MaxBackoff)
	d -= time.Duration(rand.Int64N(int64(d)/5 + 1))
	d = max(d, retryAfter)
	ep.state, ep.probing = BreakerOpen, false
	ep.until = p.now().Add(d)
	ep.gen++
	name, failures := ep.name, ep.consecutive
	return func() {
		msg := "embedding endpoint failing; breaker open"
		if probeFailed {
			msg = "embedding endpoint still failing; breaker open again"
		}
		p.log.Warn(msg, "endpoint", name, "consecutive_failures", failures, "retry_in", d.Round(time.Millisecond), "err", err)
	}
}

// retryAfter returns how long until some endpoint may be used again after
// a call that failed everywhere: 0 if one may be now. hints holds the
// Retry-After of the endpoints that failed in the call.
func (p *Pool) retryAfter(tried []bool, hints []time.Duration) time.Duration {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	best := time.Duration(-1)
	for j, ep := range p.eps {
		var d time.Duration
		switch {
		case ep.state == BreakerOpen:
			d = max(ep.until.Sub(now), hints[j], 0)
		case ep.state == BreakerHalfOpen && ep.probing:
			d = 0 // the probe will tell soon
		case tried[j]:
			d = hints[j]
		}
		if best < 0 || d < best {
			best = d
		}
	}
	return max(best, 0)
}

// Health returns a snapshot of every endpoint, in the order given to
// NewPool.
func (p *Pool) Health() []EndpointHealth {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]EndpointHealth, len(p.eps))
	for i, ep := range p.eps {
		h := EndpointHealth{
			Name:                ep.name,
			State:               ep.state,
			InFlight:            ep.inFlight,
			ConsecutiveFailures: ep.consecutive,
			Latency:             ep.latency,
			Requests:            ep.requests,
			Failures:            ep.failures,
			BatchLimit:          ep.limit.limit(ep.ceiling()),
			LatencyP99:          ep.window.percentile99(),
			HedgeAfter:          p.hedgeAfterLocked(ep),
			Hedged:              ep.hedged,
			Hedges:              ep.hedges,
			HedgeWins:           ep.hedgeWins,
		}
		if ep.state != BreakerClosed {
			h.RetryAt = ep.until
		}
		if ep.state == BreakerOpen && !now.Before(ep.until) {
			h.State = BreakerHalfOpen
		}
		out[i] = h
	}
	return out
}
