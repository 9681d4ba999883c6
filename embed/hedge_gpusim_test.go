package embed_test

import (
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
)

// A request that hangs on one server is answered by its hedge on the
// other within about the hedge threshold; the hung request is canceled and
// counts no breaker failure.
func TestPoolHedgesGpusimHangs(t *testing.T) {
	sick := startSim(t, gpusim.Config{HangRate: 0.05, HangFor: 30 * time.Second, Seed: 7,
		BaseLatency: time.Millisecond, MaxConcurrent: 4})
	healthy := startSim(t, gpusim.Config{BaseLatency: 4 * time.Millisecond, MaxConcurrent: 4})
	ems := make([]embed.Embedder, 2)
	for i, url := range []string{sick.URL(), healthy.URL()} {
		spec := simSpec(url)
		spec.Timeout = 2 * time.Second // an unhedged hang costs this much
		var err error
		if ems[i], err = embed.Open(spec); err != nil {
			t.Fatal(err)
		}
	}
	const floor = 100 * time.Millisecond
	p, err := embed.NewPool(ems, embed.PoolConfig{HedgeFloor: floor, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	in := []string{"alpha", "beta", "gamma"}
	// Warm up until the sick server's latency is known (a hang meanwhile
	// costs a timeout and fails over).
	for deadline := time.Now().Add(20 * time.Second); p.Health()[0].HedgeAfter == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no hedge threshold: %+v", p.Health())
		}
		_, _ = p.Embed(t.Context(), in)
	}
	before, hungBefore := p.Health(), sick.Stats().Hung
	after := before[0].HedgeAfter
	if after < floor || after < 3*before[0].LatencyP99 {
		t.Fatalf("hedge threshold %s, want max(3 × p99 %s, floor %s)", after, before[0].LatencyP99, floor)
	}

	var slowest time.Duration
	for i := range 200 {
		t0 := time.Now()
		if _, err := p.Embed(t.Context(), in); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		slowest = max(slowest, time.Since(t0))
	}
	h := p.Health()
	hung := sick.Stats().Hung - hungBefore
	if hung == 0 {
		t.Fatal("no request hung: the test proves nothing")
	}
	// Unhedged, a hung call would take the 2s timeout. (Under load a slow
	// request may be hedged too: hedges are at least the hangs.)
	if slowest > time.Second {
		t.Fatalf("slowest call %s with a hedge threshold of %s", slowest, after)
	}
	if got := h[0].Hedged - before[0].Hedged; got < hung {
		t.Fatalf("%d hedged for %d hung requests", got, hung)
	}
	if got := h[1].HedgeWins - before[1].HedgeWins; got < hung {
		t.Fatalf("%d hedge wins for %d hung requests", got, hung)
	}
	if h[0].Failures != before[0].Failures || h[0].State != embed.BreakerClosed {
		t.Fatalf("the canceled requests counted as failures: before %+v, after %+v", before[0], h[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := sick.Stats(); st.Abandoned != st.Hung; st = sick.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("hung requests not canceled: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("200 calls: %d hung, all answered by the hedge; slowest call %s (threshold %s)", hung, slowest.Round(time.Millisecond), after)
}
