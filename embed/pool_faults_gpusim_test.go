package embed_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/fault"
)

// Concurrent callers against two capacity-capped servers with hangs,
// errors, drops and a batch limit: every call ends with the right vectors
// (retrying server errors, as the engine does), the limit is learned, and
// nothing stays in flight.
func TestPoolUnderMixedFaults(t *testing.T) {
	cfg := gpusim.Config{MaxConcurrent: 2, BaseLatency: 2 * time.Millisecond, PerItemLatency: 50 * time.Microsecond,
		MaxBatch: 16, HangRate: 0.02, HangFor: 20 * time.Second, DropRate: 0.01,
		ErrorRates: map[int]float64{500: 0.03, 429: 0.02}}
	cfg.Seed = 1
	a := startSim(t, cfg)
	cfg.Seed = 2
	b := startSim(t, cfg)
	ems := make([]embed.Embedder, 2)
	for i, url := range []string{a.URL(), b.URL()} {
		spec := simSpec(url)
		spec.Timeout = 3 * time.Second
		var err error
		if ems[i], err = embed.Open(spec); err != nil {
			t.Fatal(err)
		}
	}
	p, err := embed.NewPool(ems, embed.PoolConfig{HedgeFloor: 50 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	want := embed.NewHash(32)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for call := range 25 {
				in := simTexts(40, w*1000+call)
				exp, _ := want.Embed(t.Context(), in)
				for try := 0; ; try++ {
					vecs, err := p.Embed(t.Context(), in)
					if err == nil {
						for i := range in {
							if !slices.Equal(vecs[i], exp[i]) {
								t.Errorf("worker %d call %d: vector %d is not the input's", w, call, i)
								return
							}
						}
						break
					}
					if fault.ClassOf(err) != fault.ClassServer || try > 50 {
						t.Errorf("worker %d call %d: %v", w, call, err)
						return
					}
					time.Sleep(max(fault.RetryAfterOf(err), 5*time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		busy := 0
		for _, h := range p.Health() {
			busy += h.InFlight
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests still in flight: %+v", p.Health())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sa, sb := a.Stats(), b.Stats()
	var hedges, wins int64
	for _, h := range p.Health() {
		if h.BatchLimit > 16 {
			t.Errorf("limit not learned: %+v", h)
		}
		hedges += h.Hedges
		wins += h.HedgeWins
	}
	t.Logf("413s %d+%d, hung %d+%d, hedges %d (won %d), requests %d+%d",
		sa.Errors[413], sb.Errors[413], sa.Hung, sb.Hung, hedges, wins, sa.Requests, sb.Requests)
}
