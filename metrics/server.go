package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Ready reports whether every stage is ready, with one line per stage
// saying why (or why not). A Metrics without stages is not ready.
func (m *Metrics) Ready() (bool, string) {
	m.mu.Lock()
	stages := append([]*Stage(nil), m.stages...)
	m.mu.Unlock()
	if len(stages) == 0 {
		return false, "no stage is running"
	}
	ok := true
	var lines []string
	for _, s := range stages {
		r, why := s.Ready()
		ok = ok && r
		lines = append(lines, why)
	}
	return ok, strings.Join(lines, "\n")
}

// Stopping marks every stage as shutting down (not ready).
func (m *Metrics) Stopping() {
	m.mu.Lock()
	stages := append([]*Stage(nil), m.stages...)
	m.mu.Unlock()
	for _, s := range stages {
		s.Stopping()
	}
}

// Mux returns the handler of the endpoints: /metrics (Prometheus), /healthz
// (200 while the process serves) and /readyz (200 when Ready, else 503),
// both with a short text body.
func (m *Metrics) Mux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := m.Ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	return mux
}

// Server serves Mux on an address; see Serve.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
	log  *slog.Logger
}

// Serve listens on addr (host:port; port 0 picks one) and serves m's
// endpoints until Close or ctx ends. The listener is open when Serve
// returns, so a wrong address fails here.
func Serve(ctx context.Context, addr string, m *Metrics, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{Handler: m.Mux(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)},
		addr: ln.Addr().String(), done: make(chan struct{}), log: log,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics: serve", "addr", s.addr, "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	go func() {
		<-s.done
		stop()
	}()
	log.Info("serving metrics and health", "addr", s.addr, "paths", "/metrics /healthz /readyz")
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the server, letting requests in progress finish for up to
// two seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
