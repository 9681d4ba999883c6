package gpusim

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/fault"
)

func TestToxicMarker(t *testing.T) {
	const base = 20 * time.Millisecond
	s := start(t, Config{Dim: 8, ToxicMarker: "TOXIC", BaseLatency: base, MaxBatch: 8,
		ErrorRates: map[int]float64{503: 0.3}, Seed: 3})
	c := client(t, s, nil)
	in := texts(4)
	in[2] += " TOXIC"
	for range 10 {
		begin := time.Now()
		_, err := c.Embed(t.Context(), in)
		var se *embed.StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 || fault.ClassOf(err) != fault.ClassServer ||
			fault.IndexOf(err) != -1 || !strings.Contains(err.Error(), "CUDA error") {
			t.Fatalf("toxic request: %v", err)
		}
		if d := time.Since(begin); d < base {
			t.Fatalf("the toxic batch took %s, not its latency %s", d, base)
		}
	}
	// Alone, too: every time.
	if _, err := c.Embed(t.Context(), in[2:3]); fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("toxic input alone: %v", err)
	}
	// The others are served (apart from the random 503s).
	served := 0
	for range 20 {
		vs, err := c.Embed(t.Context(), append(in[:2:2], in[3]))
		if err == nil && len(vs) == 3 {
			served++
		}
	}
	st := s.Stats()
	if st.Toxic != 11 || st.Errors[500] != 11 || served == 0 || int64(served) != st.Batches {
		t.Fatalf("served %d, stats %+v", served, st)
	}
	// A toxic batch over MaxBatch is refused for its size first.
	big := texts(9)
	big[0] += "TOXIC"
	if _, err := c.Embed(t.Context(), big); fault.ClassOf(err) != fault.ClassBatch {
		t.Fatalf("toxic batch over max batch: %v", err)
	}
	if err := s.Config().Validate(); err != nil {
		t.Fatal(err)
	}
}

// A capacity-capped server with every kind of fault at once: the cap
// holds, each fault shows in the counters, and every request is accounted
// for.
func TestCapacityCappedWithFaults(t *testing.T) {
	s := start(t, Config{Dim: 8, MaxConcurrent: 2, BaseLatency: 5 * time.Millisecond,
		PerItemLatency: 100 * time.Microsecond, MaxBatch: 16, Seed: 11,
		ErrorRates: map[int]float64{500: 0.1, 429: 0.05}, HangRate: 0.05, HangFor: 10 * time.Second,
		DropRate: 0.05})
	c := client(t, s, func(c *embed.Config) { c.Timeout = time.Second; c.MaxInputs = 32 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	classes := map[fault.Class]int{}
	ok := 0
	for w := range 6 {
		wg.Go(func() {
			for i := range 30 {
				n := 8
				if (w+i)%5 == 0 {
					n = 24 // over MaxBatch
				}
				_, err := c.Embed(t.Context(), texts(n))
				mu.Lock()
				if err == nil {
					ok++
				} else {
					classes[fault.ClassOf(err)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Every request ends as vectors, an error answer, a drop, or abandoned
	// by the client (the hung ones, and any the client gave up on).
	accounted := func(st Stats) int64 {
		n := st.Batches + st.Dropped + st.Abandoned
		for _, c := range st.Errors {
			n += c
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Second)
	for st := s.Stats(); accounted(st) != st.Requests && time.Now().Before(deadline); st = s.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats()
	if st.PeakActive > 2 || st.Active != 0 || st.Queued != 0 {
		t.Fatalf("capacity cap broken: %+v", st)
	}
	if st.Hung == 0 || st.Dropped == 0 || st.Errors[500] == 0 || st.Errors[429] == 0 || st.Errors[413] == 0 {
		t.Fatalf("a fault never fired: %+v", st)
	}
	if got := accounted(st); got != st.Requests || st.Requests > 180 || st.Abandoned < st.Hung {
		t.Fatalf("%d requests, %d accounted for: %+v", st.Requests, got, st)
	}
	if int64(ok) != st.Batches || classes[fault.ClassBatch] != int(st.Errors[413]) {
		t.Fatalf("%d ok, classes %v, stats %+v", ok, classes, st)
	}
}
