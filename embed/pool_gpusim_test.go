package embed_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/embed/gpusim"
	"github.com/ragpipe/ragpipe/fault"
)

var quietLog = slog.New(slog.DiscardHandler)

func startSim(t *testing.T, cfg gpusim.Config) *gpusim.Server {
	t.Helper()
	cfg.Dim = 32
	cfg.Logger = quietLog
	srv, err := gpusim.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func simSpec(url string) embed.Spec {
	return embed.Spec{Embedder: url, Model: "hash-32", Timeout: 5 * time.Second, Logger: quietLog}
}

// refusedURL returns the URL of a port where nothing listens.
func refusedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1"
	srv.Close()
	return url
}

func TestPoolFailsOverTo503AndRefused(t *testing.T) {
	sick := startSim(t, gpusim.Config{ErrorRates: map[int]float64{503: 1}})
	good := startSim(t, gpusim.Config{})
	ems := make([]embed.Embedder, 3)
	for i, url := range []string{sick.URL(), refusedURL(t), good.URL()} {
		var err error
		if ems[i], err = embed.Open(simSpec(url)); err != nil {
			t.Fatal(err)
		}
	}
	// A long backoff: no probe during the test.
	p, err := embed.NewPool(ems, embed.PoolConfig{MinBackoff: time.Minute, MaxBackoff: time.Minute, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		vs, err := p.Embed(t.Context(), []string{"alpha", "beta"})
		if err != nil || len(vs) != 2 {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	h := p.Health()
	if h[0].State != embed.BreakerOpen || h[1].State != embed.BreakerOpen || h[2].State != embed.BreakerClosed {
		t.Fatalf("health %+v", h)
	}
	// The sick endpoints were tried until their breakers opened (3 server
	// errors each), then left alone.
	if h[0].Failures != 3 || h[1].Failures != 3 || good.Stats().Batches != 10 {
		t.Fatalf("health %+v, good served %d", h, good.Stats().Batches)
	}
	if n := sick.Stats().Requests; n != 3 {
		t.Fatalf("sick got %d requests", n)
	}
}

func TestPoolRecordErrorNotRetriedElsewhere(t *testing.T) {
	a := startSim(t, gpusim.Config{PoisonMarker: "POISON"})
	b := startSim(t, gpusim.Config{PoisonMarker: "POISON"})
	e, err := embed.OpenAll([]embed.Spec{simSpec(a.URL()), simSpec(b.URL())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(t.Context(), []string{"ok", "POISON", "ok"})
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 1 {
		t.Fatalf("error %v", err)
	}
	if n := a.Stats().Requests + b.Stats().Requests; n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestPoolAllDownSendsNothing(t *testing.T) {
	down := startSim(t, gpusim.Config{ErrorRates: map[int]float64{503: 1}, RetryAfter: 30 * time.Second})
	e, err := embed.OpenAll([]embed.Spec{simSpec(down.URL())})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err = e.Embed(t.Context(), []string{"x"})
		if ra := fault.RetryAfterOf(err); ra != 30*time.Second {
			t.Fatalf("a pool of one changed the error: %v (Retry-After %s)", err, ra)
		}
	}
	for range 5 {
		_, err = e.Embed(t.Context(), []string{"x"})
		if !errors.Is(err, embed.ErrCircuitOpen) || fault.ClassOf(err) != fault.ClassServer {
			t.Fatalf("error %v", err)
		}
	}
	if ra := fault.RetryAfterOf(err); ra < 29*time.Second || ra > 30*time.Second {
		t.Fatalf("Retry-After %s, want the server's 30s", ra)
	}
	if n := down.Stats().Requests; n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// One of two servers dies mid-run: every call still succeeds.
func TestPoolEndpointKilledMidRun(t *testing.T) {
	cfg := gpusim.Config{BaseLatency: 2 * time.Millisecond, PerItemLatency: 100 * time.Microsecond}
	a, b := startSim(t, cfg), startSim(t, cfg)
	ems := make([]embed.Embedder, 2)
	for i, url := range []string{a.URL(), b.URL()} {
		var err error
		if ems[i], err = embed.Open(simSpec(url)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := embed.NewPool(ems, embed.PoolConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}

	const workers, total, killAt = 4, 300, 60
	var done atomic.Int64
	var kill sync.Once
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			batch := []string{"worker", "chunk", "text"}
			for done.Load() < total && ctx.Err() == nil {
				vs, err := p.Embed(ctx, batch)
				if err != nil || len(vs) != len(batch) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if done.Add(1) == killAt {
					kill.Do(func() { go a.Close() })
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if done.Load() < total {
		t.Fatalf("only %d calls done", done.Load())
	}
	h := p.Health()
	if a.Stats().Batches == 0 || b.Stats().Batches == 0 {
		t.Fatalf("load not spread: a %d, b %d batches", a.Stats().Batches, b.Stats().Batches)
	}
	if h[0].Failures == 0 || h[1].Failures != 0 {
		t.Fatalf("health %+v", h)
	}
}
