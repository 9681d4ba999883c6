package embed_test

import (
	"testing"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/fault"
)

// A request holding a toxic input fails with a server error every time
// (the engine, not the pool, must isolate the record), while the endpoint
// serves every other request and its breaker stays closed.
func TestPoolToxicInput(t *testing.T) {
	srv := startSim(t, gpusim.Config{ToxicMarker: "TOXIC"})
	p := openPool(t, srv.URL())
	for i := range 20 {
		in := simTexts(4, i)
		if i%4 == 0 {
			in[1] += " TOXIC"
			if _, err := p.Embed(t.Context(), in); fault.ClassOf(err) != fault.ClassServer {
				t.Fatalf("call %d: %v", i, err)
			}
			continue
		}
		if _, err := p.Embed(t.Context(), in); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	st := srv.Stats()
	if st.Toxic != 5 || st.Batches != 15 {
		t.Fatalf("stats %+v", st)
	}
	if h := p.Health()[0]; h.State != embed.BreakerClosed || h.Failures != 5 {
		t.Fatalf("health %+v", h)
	}
}
