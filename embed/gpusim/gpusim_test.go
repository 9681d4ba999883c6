package gpusim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/fault"
)

var quiet = slog.New(slog.DiscardHandler)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Logger = quiet
	s, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func client(t *testing.T, s *Server, mod func(*embed.Config)) *embed.OpenAI {
	t.Helper()
	cfg := embed.Config{BaseURL: s.URL(), Model: s.Config().Model, Timeout: 5 * time.Second,
		Logger: quiet, HTTPClient: &http.Client{Transport: &http.Transport{}}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := embed.NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("document number %d about kafka and embeddings", i)
	}
	return out
}

func TestVectorsMatchHash(t *testing.T) {
	s := start(t, Config{Dim: 64})
	if s.Config().Model != "hash-64" {
		t.Fatalf("model %q", s.Config().Model)
	}
	in := append(texts(5), "", "Straße über 東京")
	got, err := client(t, s, nil).Embed(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := embed.NewHash(64).Embed(t.Context(), in)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("input %d value %d: %v over HTTP, %v in process", i, j, got[i][j], want[i][j])
			}
		}
	}
	st := s.Stats()
	if st.Requests != 1 || st.Batches != 1 || st.Inputs != int64(len(in)) || len(st.Errors) != 0 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

func post(t *testing.T, url, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestSingleStringInputAndBadRequests(t *testing.T) {
	s := start(t, Config{Dim: 8})
	code, _, body := post(t, s.URL()+"/embeddings", `{"model":"x","input":"hello"}`)
	var r embeddingResponse
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil || len(r.Data) != 1 || len(r.Data[0].Embedding) != 8 {
		t.Fatalf("%d %s", code, body)
	}
	for _, bad := range []string{`{"input":[]}`, `{"input":[1,2]}`, `{}`, `not json`} {
		if code, _, body := post(t, s.URL()+"/embeddings", bad); code != 400 {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	// The alias without /v1 works too.
	if code, _, _ := post(t, "http://"+s.Addr()+"/embeddings", `{"input":"x"}`); code != 200 {
		t.Fatalf("/embeddings: %d", code)
	}
}

func TestConcurrencyCap(t *testing.T) {
	const base = 80 * time.Millisecond
	s := start(t, Config{Dim: 8, MaxConcurrent: 2, BaseLatency: base})
	c := client(t, s, nil)
	begin := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := c.Embed(t.Context(), texts(3)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	st := s.Stats()
	if st.PeakActive != 2 {
		t.Fatalf("peak concurrency %d, want 2", st.PeakActive)
	}
	// 6 batches, 2 at a time: 3 rounds of base latency.
	if elapsed < 3*base || elapsed > 3*base+250*time.Millisecond {
		t.Fatalf("6 batches took %s, want about %s", elapsed, 3*base)
	}
	if st.Active != 0 || st.Queued != 0 || st.Batches != 6 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLatencyModel(t *testing.T) {
	const base, per, n = 30 * time.Millisecond, 2 * time.Millisecond, 50
	s := start(t, Config{Dim: 384, BaseLatency: base, PerItemLatency: per})
	c := client(t, s, nil)
	if _, err := c.Embed(t.Context(), texts(1)); err != nil { // warm up the connection
		t.Fatal(err)
	}
	want := base + n*per
	begin := time.Now()
	if _, err := c.Embed(t.Context(), texts(n)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < want || d > want+100*time.Millisecond {
		t.Fatalf("batch of %d took %s, want about %s", n, d, want)
	}
}

func TestErrorRates(t *testing.T) {
	s := start(t, Config{Dim: 8, ErrorRates: map[int]float64{500: 1}})
	_, err := client(t, s, nil).Embed(t.Context(), texts(2))
	var se *embed.StatusError
	if fault.ClassOf(err) != fault.ClassServer || !errors.As(err, &se) || se.StatusCode != 500 {
		t.Fatalf("err %v", err)
	}
	if st := s.Stats(); st.Errors[500] != 1 {
		t.Fatalf("errors %v", st.Errors)
	}

	s = start(t, Config{Dim: 8, ErrorRates: map[int]float64{429: 1}, RetryAfter: 1500 * time.Millisecond})
	_, err = client(t, s, nil).Embed(t.Context(), texts(2))
	if fault.ClassOf(err) != fault.ClassServer || fault.RetryAfterOf(err) != 2*time.Second {
		t.Fatalf("429: %v (retry after %s)", err, fault.RetryAfterOf(err))
	}

	// Rates are honoured, and a seed reproduces the same sequence.
	counts := func(seed int64) map[int]int64 {
		s := start(t, Config{Dim: 8, Seed: seed, ErrorRates: map[int]float64{500: 0.2, 503: 0.1, 429: 0.1}})
		c := client(t, s, nil)
		for range 200 {
			_, _ = c.Embed(t.Context(), texts(1))
		}
		return s.Stats().Errors
	}
	a, b := counts(7), counts(7)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults: %v vs %v", a, b)
	}
	for status, p := range map[int]float64{500: 0.2, 503: 0.1, 429: 0.1} {
		want := p * 200
		if got := float64(a[status]); got < want/2 || got > want*1.6 {
			t.Errorf("status %d: %v answers, want about %v", status, got, want)
		}
	}
}

func TestDrop(t *testing.T) {
	s := start(t, Config{Dim: 8, DropRate: 1})
	_, err := client(t, s, nil).Embed(t.Context(), texts(2))
	if err == nil || fault.ClassOf(err) != fault.ClassServer || fault.IsCanceled(err) {
		t.Fatalf("err %v", err)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHang(t *testing.T) {
	s := start(t, Config{Dim: 8, HangRate: 1})
	begin := time.Now()
	_, err := client(t, s, func(c *embed.Config) { c.Timeout = 150 * time.Millisecond }).Embed(t.Context(), texts(2))
	if !errors.Is(err, embed.ErrTimeout) || fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("err %v", err)
	}
	if time.Since(begin) > 2*time.Second {
		t.Fatal("client did not give up in time")
	}
	// The server notices the client leaving.
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().Abandoned != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Hung != 1 || st.Abandoned != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A short hang ends in a normal answer.
	s = start(t, Config{Dim: 8, HangRate: 1, HangFor: 50 * time.Millisecond})
	if _, err := client(t, s, nil).Embed(t.Context(), texts(2)); err != nil {
		t.Fatal(err)
	}
}

func TestMaxBatch(t *testing.T) {
	s := start(t, Config{Dim: 8, MaxBatch: 4})
	c := client(t, s, nil)
	if _, err := c.Embed(t.Context(), texts(4)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Embed(t.Context(), texts(5))
	if fault.ClassOf(err) != fault.ClassBatch {
		t.Fatalf("err %v", err)
	}
	// A client that splits by MaxInputs never hits it.
	c = client(t, s, func(c *embed.Config) { c.MaxInputs = 4 })
	if vs, err := c.Embed(t.Context(), texts(9)); err != nil || len(vs) != 9 {
		t.Fatalf("%d vectors, %v", len(vs), err)
	}
}

func TestOOM(t *testing.T) {
	s := start(t, Config{Dim: 8, OOMAbove: 3})
	c := client(t, s, nil)
	if _, err := c.Embed(t.Context(), texts(3)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Embed(t.Context(), texts(4))
	if fault.ClassOf(err) != fault.ClassBatch || !strings.Contains(err.Error(), "CUDA out of memory") {
		t.Fatalf("err %v", err)
	}
	if code, _, body := post(t, s.URL()+"/embeddings", `{"input":["a","b","c","d"]}`); code != 500 || !strings.Contains(body, `{"error":"CUDA out of memory"}`) {
		t.Fatalf("%d %s", code, body)
	}
}

func TestPoison(t *testing.T) {
	s := start(t, Config{Dim: 8, PoisonMarker: "POISON"})
	in := texts(6)
	in[4] = "this one is POISON"
	_, err := client(t, s, nil).Embed(t.Context(), in)
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 4 {
		t.Fatalf("err %v", err)
	}
	_, err = client(t, s, func(c *embed.Config) { c.MaxInputs = 4 }).Embed(t.Context(), in)
	if fault.IndexOf(err) != 4 {
		t.Fatalf("split: err %v", err)
	}
	code, _, body := post(t, s.URL()+"/embeddings", `{"input":["ok","ok","ok","POISON"]}`)
	var e struct {
		Error struct {
			Message string
			Index   int
		}
	}
	if code != 400 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Index != 3 || !strings.HasPrefix(e.Error.Message, "input 3 is invalid") {
		t.Fatalf("%d %s", code, body)
	}
}

func TestOutageRefuse(t *testing.T) {
	s := start(t, Config{Dim: 8, Outages: []Window{{Start: 150 * time.Millisecond, End: 400 * time.Millisecond}}})
	url := s.URL()
	c := client(t, s, func(c *embed.Config) { c.Timeout = time.Second })
	if _, err := c.Embed(t.Context(), texts(1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(s.start.Add(250 * time.Millisecond)))
	_, err := c.Embed(t.Context(), texts(1))
	// A new connection is refused; a kept-alive one may be reset or
	// closed (EOF) instead.
	if !(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) ||
		fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("during outage: %v", err)
	}
	if s.Stats().Up {
		t.Fatal("Up during outage")
	}
	// After the window it listens again (soon after, on a loaded machine).
	time.Sleep(time.Until(s.start.Add(400 * time.Millisecond)))
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.Embed(t.Context(), texts(1))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after outage: %v", err)
		}
	}
	if s.URL() != url || !s.Stats().Up {
		t.Fatalf("URL changed to %s", s.URL())
	}
}

func TestOutageRefuseCutsInFlight(t *testing.T) {
	s := start(t, Config{Dim: 8, BaseLatency: time.Second, Outages: []Window{{Start: 100 * time.Millisecond, End: 200 * time.Millisecond}}})
	_, err := client(t, s, nil).Embed(t.Context(), texts(1))
	if err == nil || fault.ClassOf(err) != fault.ClassServer {
		t.Fatalf("in flight at outage: %v", err)
	}
}

func TestOutageUnavailable(t *testing.T) {
	s := start(t, Config{Dim: 8, RetryAfter: time.Second,
		Outages: []Window{{Start: 0, End: 300 * time.Millisecond, Mode: OutageUnavailable}}})
	time.Sleep(50 * time.Millisecond)
	_, err := client(t, s, nil).Embed(t.Context(), texts(1))
	if fault.ClassOf(err) != fault.ClassServer || fault.RetryAfterOf(err) != time.Second || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err %v", err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("health %d during outage", resp.StatusCode)
	}
	// After the window the server answers again (soon after its end, on a
	// loaded machine).
	time.Sleep(time.Until(s.start.Add(300 * time.Millisecond)))
	c := client(t, s, nil)
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.Embed(t.Context(), texts(1))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

func TestHealthInfoModels(t *testing.T) {
	s := start(t, Config{Dim: 16, Model: "sim", MaxBatch: 32, MaxConcurrent: 3})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("health %d %q", code, body)
	}
	code, body := get("/info")
	var i info
	if code != 200 || json.Unmarshal([]byte(body), &i) != nil ||
		i.ModelID != "sim" || i.MaxClientBatchSize != 32 || i.Dimensions != 16 || i.MaxConcurrentRequests != 3 {
		t.Fatalf("info %d %s", code, body)
	}
	if code, body := get("/v1/models"); code != 200 || !strings.Contains(body, `"id":"sim"`) {
		t.Fatalf("models %d %s", code, body)
	}
}

func TestCloseAndContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Config{Dim: 8, Logger: quiet, BaseLatency: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, nil)
	done := make(chan error, 1)
	go func() { _, err := c.Embed(t.Context(), texts(1)); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel() // closes the server, cutting the slow request
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("request succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("request not cut by the server's close")
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	// A new connection is refused; a kept-alive one may be reset or closed
	// (EOF) instead.
	if _, err := c.Embed(t.Context(), texts(1)); !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) &&
		!errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Dim: -1},
		{MaxConcurrent: -1},
		{MaxBatch: -1},
		{OOMAbove: -1},
		{BaseLatency: -1},
		{HangRate: 1.5},
		{DropRate: -0.1},
		{ErrorRates: map[int]float64{200: 0.1}},
		{ErrorRates: map[int]float64{500: 0.6}, DropRate: 0.6},
		{Outages: []Window{{Start: 2, End: 1}}},
		{Outages: []Window{{Start: 0, End: 10}, {Start: 5, End: 20}}},
		{Outages: []Window{{Start: 0, End: 10, Mode: "crash"}}},
	} {
		if err := cfg.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Config{Addr: "256.0.0.1:1", Logger: quiet}); err == nil {
		t.Fatal("bad address accepted")
	}
}
