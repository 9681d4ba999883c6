package embed

import (
	"context"
	"errors"
	"slices"
	"time"
)

// This file holds request hedging: a request that runs far past its
// endpoint's recent latency is sent again, and the first answer wins.

// Defaults of PoolConfig's hedging.
const (
	// DefaultHedgeMultiplier times an endpoint's recent p99 latency is how
	// long a request runs before it is hedged (at least DefaultHedgeFloor).
	DefaultHedgeMultiplier = 3.0
	// DefaultHedgeFloor is the shortest wait before a hedge.
	DefaultHedgeFloor = 250 * time.Millisecond
	// DefaultHedgeBudget is the share of requests that may be hedged, on
	// top of DefaultHedgeBurst.
	DefaultHedgeBudget = 0.1
	// DefaultHedgeBurst is how many hedges may be sent in a row before the
	// budget applies.
	DefaultHedgeBurst = 10
	// HedgeWindow is how many recent successful requests of an endpoint
	// its p99 latency is computed over.
	HedgeWindow = 256
	// HedgeMinSamples is how many successful requests an endpoint must
	// have answered before its requests are hedged.
	HedgeMinSamples = 20
	// HedgeOff, as PoolConfig.HedgeMultiplier (any negative value does),
	// turns hedging off. A zero HedgeMultiplier means the default, as for
	// every PoolConfig field.
	HedgeOff = -1.0
)

// hedgeWarmupFactor times HedgeFloor (2 s by default) is the hedge
// threshold of an endpoint whose p99 is not known yet.
const hedgeWarmupFactor = 8

// errLostRace cancels the request that lost to its hedge (or the hedge
// that lost to its request).
var errLostRace = errors.New("embed: pool: another request for the same inputs answered first")

// latencyWindow holds an endpoint's last HedgeWindow successful request
// latencies, guarded by Pool.mu.
type latencyWindow struct {
	samples [HedgeWindow]time.Duration
	sorted  [HedgeWindow]time.Duration // scratch for percentile99
	n, next int
	p99     time.Duration // of samples; valid unless dirty
	dirty   bool
}

func (w *latencyWindow) add(d time.Duration) {
	w.samples[w.next] = d
	w.next = (w.next + 1) % HedgeWindow
	w.n = min(w.n+1, HedgeWindow)
	w.dirty = true
}

// percentile99 returns the window's 99th percentile latency, or 0 with
// fewer than HedgeMinSamples samples.
func (w *latencyWindow) percentile99() time.Duration {
	if w.n < HedgeMinSamples {
		return 0
	}
	if w.dirty {
		s := w.sorted[:w.n]
		copy(s, w.samples[:w.n])
		slices.Sort(s)
		w.p99 = s[(w.n*99+99)/100-1]
		w.dirty = false
	}
	return w.p99
}

// hedgeBudget is a token bucket: each request adds ratio tokens, up to
// burst; a hedge takes one. Guarded by Pool.mu.
type hedgeBudget struct {
	tokens float64
}

// hedgeAfterLocked returns how long a request to ep may run before it is
// hedged, or 0 when it is not to be hedged (hedging is off, or ep has
// answered too few requests to know its latency).
func (p *Pool) hedgeAfterLocked(ep *endpoint) time.Duration {
	if p.cfg.HedgeMultiplier < 0 {
		return 0
	}
	p99 := ep.window.percentile99()
	if p99 == 0 {
		return 0
	}
	return max(time.Duration(p.cfg.HedgeMultiplier*float64(p99)), p.cfg.HedgeFloor)
}

// acquireHedge picks the endpoint for a hedge of a request to endpoint
// primary, taking a token from the budget: the least loaded other endpoint
// whose breaker is closed and that has not failed in this call, else
// primary itself unless its breaker is open. It counts the hedge in
// flight.
func (p *Pool) acquireHedge(tried []bool, primary int) (i int, gen uint64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget.tokens < 1 {
		return 0, 0, false
	}
	best := -1
	for j, ep := range p.eps {
		if j == primary || tried[j] || ep.state != BreakerClosed {
			continue
		}
		if best < 0 || ep.inFlight < p.eps[best].inFlight ||
			(ep.inFlight == p.eps[best].inFlight && ep.latency < p.eps[best].latency) {
			best = j
		}
	}
	if best < 0 {
		if p.eps[primary].state == BreakerOpen {
			return 0, 0, false
		}
		best = primary
	}
	p.budget.tokens--
	p.eps[primary].hedged++
	ep := p.eps[best]
	ep.inFlight++
	ep.requests++
	ep.hedges++
	return best, ep.gen, true
}

// sendResult is the outcome of one request.
type sendResult struct {
	ep    int
	gen   uint64
	n     int  // inputs sent
	probe bool // they probe a larger batch limit
	vecs  [][]float32
	err   error
	o     outcome
	hedge bool
}

// send sends chunk to endpoint i, acquired at generation gen, and records
// the outcome. A request canceled because another answered first is
// neutral: it says nothing of the endpoint's health.
func (p *Pool) send(ctx context.Context, i int, gen uint64, chunk []string, probe, hedge bool) sendResult {
	start := time.Now()
	vecs, err := p.eps[i].e.Embed(ctx, chunk)
	took := time.Since(start)
	o := classify(ctx, err)
	if err != nil && errors.Is(context.Cause(ctx), errLostRace) {
		o = outcomeNeutral
	}
	p.release(i, gen, took, o, err, len(chunk), probe)
	return sendResult{ep: i, gen: gen, n: len(chunk), probe: probe, vecs: vecs, err: err, o: o, hedge: hedge}
}

// race sends rest[:limit] to endpoint i (acquired at generation gen) and,
// if it has not answered within the endpoint's hedge threshold and the
// call may still hedge, sends the same inputs (up to the hedge endpoint's
// limit) to a second endpoint (see acquireHedge). The first result that is
// not a server failure wins and the other request is canceled. It returns
// the winner, if any, and the server failures seen.
func (p *Pool) race(ctx context.Context, i int, gen uint64, rest []string, tried []bool, st *callState) (win sendResult, won bool, failed []sendResult) {
	p.mu.Lock()
	ep := p.eps[i]
	n, probe := p.chunkLocked(ep, len(rest))
	after := time.Duration(0)
	if !st.hedged {
		after = p.hedgeAfterLocked(ep)
		if after == 0 && p.cfg.HedgeMultiplier >= 0 {
			// Warming up (too few samples for a p99): hedge only a request
			// that is clearly hung, so that a hang among an endpoint's first
			// requests does not wait for the request timeout.
			after = hedgeWarmupFactor * p.cfg.HedgeFloor
		}
	}
	p.budget.tokens = min(p.budget.tokens+p.cfg.HedgeBudget, float64(p.cfg.HedgeBurst))
	p.mu.Unlock()

	if after == 0 {
		r := p.send(ctx, i, gen, rest[:n], probe, false)
		if r.o == outcomeFailure {
			return sendResult{}, false, []sendResult{r}
		}
		return r, true, nil
	}

	results := make(chan sendResult, 2)
	pctx, pcancel := context.WithCancelCause(ctx)
	defer pcancel(errLostRace)
	go func() { results <- p.send(pctx, i, gen, rest[:n], probe, false) }()
	timer := time.NewTimer(after)
	defer timer.Stop()
	wait := after // before the next hedge after a failure: doubles each time
	pending := 1
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.o == outcomeFailure {
				failed = append(failed, r)
				if pending > 0 {
					// One of the two failed while the other still runs:
					// that one may be hedged again, elsewhere than the
					// endpoint that just failed, after twice the wait
					// before the last hedge (successive hedges back off).
					tried[r.ep] = true
					st.hedged = false
					wait *= 2
					timer.Reset(wait)
				}
				continue
			}
			if r.hedge && r.err == nil {
				p.mu.Lock()
				p.eps[r.ep].hedgeWins++
				p.mu.Unlock()
			}
			return r, true, failed // the deferred cancels stop the other
		case <-timer.C:
			if st.hedged {
				continue
			}
			j, jgen, ok := p.acquireHedge(tried, i)
			if !ok {
				// No token, or the endpoint's breaker is open: try again
				// while the request runs, so that a hang at such a moment
				// does not hold its inputs for the whole request timeout.
				timer.Reset(p.cfg.HedgeFloor)
				continue
			}
			st.hedged = true
			p.mu.Lock()
			m, hprobe := p.chunkLocked(p.eps[j], len(rest))
			p.mu.Unlock()
			p.log.Debug("embedding request is slow; hedging it", "endpoint", ep.name, "after", after.Round(time.Millisecond),
				"hedge_endpoint", p.eps[j].name, "inputs", m)
			hctx, hcancel := context.WithCancelCause(ctx)
			defer hcancel(errLostRace)
			go func() { results <- p.send(hctx, j, jgen, rest[:m], hprobe, true) }()
			pending++
		}
	}
	return sendResult{}, false, failed
}
