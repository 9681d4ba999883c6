package gpusim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragpipe/ragpipe/embed"
)

const maxRequestBody = 64 << 20

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	hash     *embed.Hash
	start    time.Time
	addr     string // fixed at the first listen, reused after outages
	slots    chan struct{}
	statuses []int // keys of cfg.ErrorRates, sorted

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	stopAfter func() bool // stops the ctx-triggered Close
	bg        sync.WaitGroup

	mu          sync.Mutex
	rng         *rand.Rand
	http        *http.Server // nil while refusing
	unavailable bool
	closed      bool
	handlers    sync.WaitGroup // in-flight handlers; Add under mu while !closed
	errors      map[int]int64

	requests, inputs, batches atomic.Int64
	dropped, hung, abandoned  atomic.Int64
	toxic                     atomic.Int64
	active, queued, peak      atomic.Int64
}

// Stats is a snapshot of the server's counters and gauges.
type Stats struct {
	Requests   int64         // embedding requests received
	Batches    int64         // requests answered with vectors
	Inputs     int64         // inputs answered with vectors
	Errors     map[int]int64 // error answers by HTTP status
	Dropped    int64         // connections reset on purpose
	Hung       int64         // requests that hung
	Abandoned  int64         // requests whose client left before the answer
	Toxic      int64         // requests answered 500 for holding ToxicMarker
	Active     int           // batches executing now
	Queued     int           // batches waiting for a slot now
	PeakActive int           // most batches ever executing at once
	Up         bool          // listening (false during a refuse outage)
}

// Start listens on cfg.Addr and serves until Close is called or ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gpusim: listen: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "gpusim"),
		hash:     embed.NewHash(cfg.Dim),
		start:    time.Now(),
		addr:     ln.Addr().String(),
		slots:    make(chan struct{}, cfg.MaxConcurrent),
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		errors:   make(map[int]int64),
		statuses: slices.Sorted(maps.Keys(cfg.ErrorRates)),
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.serve(ln)
	if len(cfg.Outages) > 0 {
		s.bg.Go(s.runOutages)
	}
	s.mu.Lock()
	s.stopAfter = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Unlock()
	s.log.Info("gpusim started", "url", s.URL(), "model", cfg.Model, "dim", cfg.Dim,
		"max_concurrent", cfg.MaxConcurrent, "max_batch", cfg.MaxBatch,
		"base_latency", cfg.BaseLatency, "per_item_latency", cfg.PerItemLatency)
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL returns the OpenAI base URL, http://ADDR/v1.
func (s *Server) URL() string { return "http://" + s.addr + "/v1" }

// Config returns the configuration in force, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Close stops the server: it closes the listener and all connections,
// unblocks queued and sleeping requests, and waits for them to return.
// It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	hs := s.http
	s.http = nil
	stop := s.stopAfter
	s.mu.Unlock()

	if stop != nil {
		stop()
	}
	s.cancel()
	var err error
	if hs != nil {
		err = hs.Close()
	}
	s.bg.Wait()
	s.handlers.Wait()
	s.log.Info("gpusim stopped")
	return err
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	errs := maps.Clone(s.errors)
	up := s.http != nil
	s.mu.Unlock()
	return Stats{
		Requests:   s.requests.Load(),
		Batches:    s.batches.Load(),
		Inputs:     s.inputs.Load(),
		Errors:     errs,
		Dropped:    s.dropped.Load(),
		Hung:       s.hung.Load(),
		Abandoned:  s.abandoned.Load(),
		Toxic:      s.toxic.Load(),
		Active:     int(s.active.Load()),
		Queued:     int(s.queued.Load()),
		PeakActive: int(s.peak.Load()),
		Up:         up,
	}
}

// serve starts an http.Server on ln. A new one is made after each refuse
// outage because a closed http.Server cannot serve again.
func (s *Server) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/embeddings", s.handleEmbeddings)
	mux.HandleFunc("POST /embeddings", s.handleEmbeddings)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("GET /info", s.handleInfo)
	hs := &http.Server{
		Handler:           s.track(mux),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return
	}
	s.http = hs
	s.mu.Unlock()
	s.bg.Go(func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gpusim: serve", "err", err)
		}
	})
}

// track counts in-flight handlers so that Close can wait for them.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		defer s.handlers.Done()
		h.ServeHTTP(w, r)
	})
}

// runOutages plays the outage windows.
func (s *Server) runOutages() {
	for _, w := range s.cfg.Outages {
		if !s.sleepUntil(s.start.Add(w.Start)) {
			return
		}
		s.log.Warn("gpusim outage begins", "mode", w.Mode, "until", w.End)
		if w.Mode == OutageUnavailable {
			s.setUnavailable(true)
		} else {
			s.goDown()
		}
		if !s.sleepUntil(s.start.Add(w.End)) {
			return
		}
		if w.Mode == OutageUnavailable {
			s.setUnavailable(false)
		} else if !s.goUp() {
			return
		}
		s.log.Warn("gpusim outage ends", "mode", w.Mode)
	}
}

func (s *Server) sleepUntil(t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) setUnavailable(v bool) {
	s.mu.Lock()
	s.unavailable = v
	s.mu.Unlock()
}

func (s *Server) goDown() {
	s.mu.Lock()
	hs := s.http
	s.http = nil
	s.mu.Unlock()
	if hs != nil {
		_ = hs.Close() // listener and connections; handlers see their context end
	}
}

// goUp listens again on the same address, retrying while the port is busy.
func (s *Server) goUp() bool {
	var lc net.ListenConfig
	for {
		ln, err := lc.Listen(s.ctx, "tcp", s.addr)
		if err == nil {
			s.serve(ln)
			return true
		}
		s.log.Error("gpusim: listen again after outage", "addr", s.addr, "err", err)
		if !s.sleepUntil(time.Now().Add(100 * time.Millisecond)) {
			return false
		}
	}
}

type outcome struct {
	drop, hang bool
	status     int
}

// draw picks the random fault for one request.
func (s *Server) draw() outcome {
	s.mu.Lock()
	u := s.rng.Float64()
	s.mu.Unlock()
	if u -= s.cfg.DropRate; u < 0 {
		return outcome{drop: true}
	}
	if u -= s.cfg.HangRate; u < 0 {
		return outcome{hang: true}
	}
	for _, status := range s.statuses {
		if u -= s.cfg.ErrorRates[status]; u < 0 {
			return outcome{status: status}
		}
	}
	return outcome{}
}

type embeddingRequest struct {
	Model string          `json:"model"`
	Input json.RawMessage `json:"input"`
}

type embeddingData struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

type embeddingResponse struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.requests.Add(1)
	s.mu.Lock()
	unavailable := s.unavailable
	s.mu.Unlock()
	if unavailable {
		s.fail(w, http.StatusServiceUnavailable, "service unavailable (simulated outage)", -1)
		return
	}

	var req embeddingRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(w, http.StatusRequestEntityTooLarge, "request body too large", -1)
			return
		}
		s.fail(w, http.StatusBadRequest, "malformed JSON: "+err.Error(), -1)
		return
	}
	inputs, err := parseInput(req.Input)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error(), -1)
		return
	}

	n := len(inputs)
	if s.isToxic(inputs) && (s.cfg.MaxBatch <= 0 || n <= s.cfg.MaxBatch) {
		s.serveToxic(ctx, w, n)
		return
	}

	switch o := s.draw(); {
	case o.drop:
		s.drop(w)
		return
	case o.hang:
		s.hung.Add(1)
		s.log.Debug("gpusim: hanging request", "inputs", len(inputs), "for", s.cfg.HangFor)
		if !sleepCtx(ctx, s.cfg.HangFor) {
			s.abandoned.Add(1)
			return
		}
	case o.status != 0:
		s.fail(w, o.status, fmt.Sprintf("simulated error %d", o.status), -1)
		return
	}

	if s.cfg.MaxBatch > 0 && n > s.cfg.MaxBatch {
		s.fail(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch size %d > maximum allowed batch size %d", n, s.cfg.MaxBatch), -1)
		return
	}
	if s.cfg.PoisonMarker != "" {
		for i, in := range inputs {
			if strings.Contains(in, s.cfg.PoisonMarker) {
				s.fail(w, http.StatusBadRequest, fmt.Sprintf("input %d is invalid: it contains the poison marker", i), i)
				return
			}
		}
	}

	began, release, ok := s.acquireSlot(ctx)
	if !ok {
		return
	}
	if s.cfg.OOMAbove > 0 && n > s.cfg.OOMAbove {
		release()
		s.count(http.StatusInternalServerError)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "CUDA out of memory"})
		return
	}
	resp := embeddingResponse{Object: "list", Model: s.cfg.Model, Data: make([]embeddingData, n)}
	flat := make([]float32, n*s.cfg.Dim)
	tokens := 0
	for i, in := range inputs {
		v := flat[i*s.cfg.Dim : (i+1)*s.cfg.Dim : (i+1)*s.cfg.Dim]
		s.hash.VectorInto(v, in)
		resp.Data[i] = embeddingData{Object: "embedding", Index: i, Embedding: v}
		tokens += (len(in) + 3) / 4
	}
	resp.Usage.PromptTokens, resp.Usage.TotalTokens = tokens, tokens
	if !s.execute(ctx, began, release, n) {
		return
	}
	s.batches.Add(1)
	s.inputs.Add(int64(n))
	writeJSON(w, http.StatusOK, resp)
}

// acquireSlot waits for a GPU slot; ok is false (and the request counted
// as abandoned) if the client leaves first. release frees the slot.
func (s *Server) acquireSlot(ctx context.Context) (began time.Time, release func(), ok bool) {
	s.queued.Add(1)
	select {
	case s.slots <- struct{}{}:
		s.queued.Add(-1)
	case <-ctx.Done():
		s.queued.Add(-1)
		s.abandoned.Add(1)
		return time.Time{}, nil, false
	}
	began = time.Now()
	s.notePeak(s.active.Add(1))
	return began, func() {
		s.active.Add(-1)
		<-s.slots
	}, true
}

// execute holds the slot taken at began until a batch of n inputs has run
// for its latency, then frees it with release. It reports false (and
// counts the request as abandoned) if the client left first.
func (s *Server) execute(ctx context.Context, began time.Time, release func(), n int) bool {
	ok := sleepCtx(ctx, time.Until(began.Add(s.cfg.BaseLatency+time.Duration(n)*s.cfg.PerItemLatency)))
	release()
	if !ok {
		s.abandoned.Add(1)
	}
	return ok
}

// isToxic reports whether some input holds the toxic marker.
func (s *Server) isToxic(inputs []string) bool {
	if s.cfg.ToxicMarker == "" {
		return false
	}
	for _, in := range inputs {
		if strings.Contains(in, s.cfg.ToxicMarker) {
			return true
		}
	}
	return false
}

// serveToxic executes a batch of n inputs that holds the toxic marker: it
// takes a slot for the batch's latency, then fails with 500.
func (s *Server) serveToxic(ctx context.Context, w http.ResponseWriter, n int) {
	began, release, ok := s.acquireSlot(ctx)
	if !ok {
		return
	}
	if !s.execute(ctx, began, release, n) {
		return
	}
	s.toxic.Add(1)
	s.count(http.StatusInternalServerError)
	writeJSON(w, http.StatusInternalServerError, map[string]string{
		"error": "CUDA error: an illegal memory access was encountered (simulated fault on a toxic input)",
	})
}

// parseInput accepts a string or an array of strings.
func parseInput(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing input")
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list) == 0 {
			return nil, errors.New("input is empty")
		}
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	return nil, errors.New("input must be a string or an array of strings (token arrays are not supported)")
}

func (s *Server) notePeak(n int64) {
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// drop resets the connection without answering.
func (s *Server) drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.log.Error("gpusim: cannot hijack to drop the connection", "err", err)
		s.fail(w, http.StatusInternalServerError, "simulated drop failed", -1)
		return
	}
	s.dropped.Add(1)
	s.log.Debug("gpusim: dropping connection")
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset rather than close gracefully
	}
	_ = conn.Close()
}

type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
	Param   string `json:"param,omitempty"`
	Index   *int   `json:"index,omitempty"`
}

// fail answers with an OpenAI-style error; index ≥ 0 names an input.
func (s *Server) fail(w http.ResponseWriter, status int, msg string, index int) {
	s.count(status)
	s.log.Debug("gpusim: error answer", "status", status, "msg", msg)
	e := apiError{Message: msg, Type: "server_error", Code: status}
	if status < 500 && status != http.StatusTooManyRequests {
		e.Type = "invalid_request_error"
	}
	if index >= 0 {
		e.Param, e.Index = "input", &index
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && s.cfg.RetryAfter > 0 {
		secs := int(math.Ceil(s.cfg.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, status, map[string]apiError{"error": e})
}

func (s *Server) count(status int) {
	s.mu.Lock()
	s.errors[status]++
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}

// sleepCtx sleeps for d and reports whether it was not interrupted by ctx.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	unavailable := s.unavailable
	s.mu.Unlock()
	if unavailable {
		s.fail(w, http.StatusServiceUnavailable, "service unavailable (simulated outage)", -1)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

type info struct {
	ModelID               string `json:"model_id"`
	ModelDtype            string `json:"model_dtype"`
	Dimensions            int    `json:"dimensions"`
	MaxConcurrentRequests int    `json:"max_concurrent_requests"`
	MaxClientBatchSize    int    `json:"max_client_batch_size,omitempty"`
	Version               string `json:"version"`
}

func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, info{
		ModelID:               s.cfg.Model,
		ModelDtype:            "float32",
		Dimensions:            s.cfg.Dim,
		MaxConcurrentRequests: s.cfg.MaxConcurrent,
		MaxClientBatchSize:    s.cfg.MaxBatch,
		Version:               "gpusim",
	})
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []map[string]any{{
			"id": s.cfg.Model, "object": "model", "owned_by": "gpusim",
			"created": s.start.Unix(),
		}},
	})
}
