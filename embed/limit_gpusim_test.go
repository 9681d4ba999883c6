package embed_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
)

func simTexts(n, call int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("chunk %d of call %d", i, call)
	}
	return out
}

func openPool(t *testing.T, url string) *embed.Pool {
	t.Helper()
	e, err := embed.OpenAll([]embed.Spec{simSpec(url)})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := e.(*embed.Pool)
	if !ok {
		t.Fatalf("OpenAll of one remote spec gave a %T, not a Pool", e)
	}
	return p
}

// Against a server whose maximum batch is 32, batches of 64 cost one 413,
// not one per batch.
func TestPoolLearnsGpusimMaxBatch(t *testing.T) {
	srv := startSim(t, gpusim.Config{MaxBatch: 32})
	p := openPool(t, srv.URL())
	want := embed.NewHash(32)
	for call := range 100 {
		in := simTexts(64, call)
		vecs, err := p.Embed(t.Context(), in)
		if err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
		exp, _ := want.Embed(t.Context(), in)
		for i := range in {
			if !slices.Equal(vecs[i], exp[i]) {
				t.Fatalf("call %d: vector %d is not the input's", call, i)
			}
		}
	}
	st := srv.Stats()
	if st.Errors[413] != 1 {
		t.Fatalf("%d answers 413, want 1 (stats %+v)", st.Errors[413], st)
	}
	if st.Requests != 201 || st.Batches != 200 {
		t.Fatalf("%d requests, %d batches", st.Requests, st.Batches)
	}
	if h := p.Health()[0]; h.BatchLimit != 32 || h.Failures != 0 {
		t.Fatalf("health %+v", h)
	}
	t.Logf("100 calls of 64 inputs: %d requests, %d answered 413", st.Requests, st.Errors[413])
}

func TestPoolLearnsGpusimMaxBatchConcurrently(t *testing.T) {
	srv := startSim(t, gpusim.Config{MaxBatch: 32, MaxConcurrent: 4})
	p := openPool(t, srv.URL())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for call := range 25 {
				if _, err := p.Embed(t.Context(), simTexts(64, w*100+call)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := srv.Stats()
	if st.Errors[413] > 8+2 { // the first wave, then one request per probe
		t.Fatalf("%d answers 413 for 8 concurrent callers", st.Errors[413])
	}
	t.Logf("8×25 concurrent calls of 64 inputs: %d requests, %d answered 413", st.Requests, st.Errors[413])
}

// An out-of-memory answer lowers the limit like a 413.
func TestPoolLearnsGpusimOOM(t *testing.T) {
	srv := startSim(t, gpusim.Config{OOMAbove: 16})
	p := openPool(t, srv.URL())
	for call := range 50 {
		if _, err := p.Embed(t.Context(), simTexts(40, call)); err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
	}
	st := srv.Stats()
	if st.Errors[500] != 2 { // 40 → 20 → 10
		t.Fatalf("%d out-of-memory answers, want 2", st.Errors[500])
	}
	if h := p.Health()[0]; h.BatchLimit != 10 || h.Failures != 0 {
		t.Fatalf("health %+v", h)
	}
}
