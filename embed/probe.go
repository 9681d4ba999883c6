package embed

import (
	"context"
	"fmt"
	"sync"
)

// Probe sends input alone to every endpoint, whatever its breaker says,
// and returns nil if any answered (an answer refusing the input counts:
// the server is up), or else the last server error. An endpoint that
// answers is healthy, so its breaker closes.
//
// It tells a toxic input from an outage: a request that fails on one
// input while the endpoints answer a known-good one is the input's fault.
// Going around the breakers matters there: a toxic input retried alone
// can open an endpoint's breaker by itself, and a probe through the
// breaker would then fail fast, as in an outage.
func (p *Pool) Probe(ctx context.Context, input string) error {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      bool
		lastErr error
	)
	for i, ep := range p.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ep.e.Embed(ctx, []string{input})
			if classify(ctx, err) == outcomeFailure {
				mu.Lock()
				lastErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			ok = true
			mu.Unlock()
			p.healthy(i)
		}()
	}
	wg.Wait()
	if ok {
		return nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("embed: pool: probe not sent: %w", ctx.Err())
	}
	return lastErr
}

// healthy records that endpoint i answered a probe: its failure count
// resets and an open breaker closes.
func (p *Pool) healthy(i int) {
	p.mu.Lock()
	ep := p.eps[i]
	ep.consecutive = 0
	closed := ep.state != BreakerClosed
	if closed {
		ep.state, ep.probing, ep.opens = BreakerClosed, false, 0
		ep.gen++
	}
	name := ep.name
	p.mu.Unlock()
	if closed {
		p.log.Info("embedding endpoint answered a probe; breaker closed", "endpoint", name)
	}
}
