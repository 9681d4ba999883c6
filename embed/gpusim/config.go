package gpusim

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ragpipe/ragpipe/embed"
)

// Defaults of Config, and suggested latencies for a small embedding model
// (the zero latencies of Config mean "instant").
const (
	DefaultAddr           = "127.0.0.1:0"
	DefaultDim            = embed.DefaultHashDim
	DefaultMaxConcurrent  = 4
	DefaultHangFor        = 60 * time.Second
	DefaultBaseLatency    = 5 * time.Millisecond
	DefaultPerItemLatency = 200 * time.Microsecond
)

// OutageMode says how the server behaves during an outage window.
type OutageMode string

const (
	// OutageRefuse closes the listener and all connections for the window,
	// then listens again on the same address. The zero Mode means this.
	OutageRefuse OutageMode = "refuse"
	// OutageUnavailable answers every request with 503 for the window.
	OutageUnavailable OutageMode = "503"
)

// Window is an outage from Start to End after the server started.
type Window struct {
	Start, End time.Duration
	Mode       OutageMode
}

// Config configures a simulated GPU embedding server.
type Config struct {
	// Addr is the listen address. Default 127.0.0.1:0 (a free port).
	Addr string
	// Dim is the vector dimension. Default 384.
	Dim int
	// Model is the model name announced. Default "hash-<Dim>", the name of
	// the in-process embedder that produces the same vectors.
	Model string
	// A batch of n inputs executes for BaseLatency + n×PerItemLatency.
	BaseLatency    time.Duration
	PerItemLatency time.Duration
	// MaxBatch is the most inputs per request (above: 413); 0 = unlimited.
	MaxBatch int
	// MaxConcurrent is the number of batches executing at once; the others
	// queue. Default 4.
	MaxConcurrent int
	// OOMAbove makes a batch of more inputs fail with 500 "CUDA out of
	// memory"; 0 = off.
	OOMAbove int
	// ErrorRates maps an HTTP status (400-599) to the probability that a
	// request is answered with it.
	ErrorRates map[int]float64
	// RetryAfter is sent (rounded up to whole seconds) with 429 and 503.
	RetryAfter time.Duration
	// HangRate is the probability that a request sleeps for HangFor (default
	// 60s) or until the client gives up, before being served.
	HangRate float64
	HangFor  time.Duration
	// DropRate is the probability that a connection is reset unanswered.
	DropRate float64
	// Outages are windows during which the server is down; see the package
	// documentation. They must not overlap.
	Outages []Window
	// PoisonMarker, if not empty, makes any request with an input that
	// contains it fail with 400 naming that input's index.
	PoisonMarker string
	// ToxicMarker, if not empty, makes any request with an input that
	// contains it fail with 500 every time, after holding a slot for the
	// batch's latency, like a CUDA fault caused by one input: the answer
	// does not say which input, and is not an out-of-memory answer. Other
	// requests are served as usual.
	ToxicMarker string
	// Seed seeds the fault generator.
	Seed int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Dim == 0 {
		c.Dim = DefaultDim
	}
	if c.Model == "" {
		c.Model = embed.NewHash(c.Dim).Model()
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.HangFor == 0 {
		c.HangFor = DefaultHangFor
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Outages = slices.Clone(c.Outages)
	for i := range c.Outages {
		if c.Outages[i].Mode == "" {
			c.Outages[i].Mode = OutageRefuse
		}
	}
	slices.SortFunc(c.Outages, func(a, b Window) int { return cmp.Compare(a.Start, b.Start) })
	return c
}

// Validate reports whether c is usable. Call it on c.WithDefaults().
func (c Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf("gpusim: "+format, args...))
		}
	}
	check(c.Dim <= 0, "dimension %d is not positive", c.Dim)
	check(c.BaseLatency < 0 || c.PerItemLatency < 0, "negative latency")
	check(c.MaxBatch < 0, "negative max batch %d", c.MaxBatch)
	check(c.MaxConcurrent <= 0, "max concurrent %d is not positive", c.MaxConcurrent)
	check(c.OOMAbove < 0, "negative OOM threshold %d", c.OOMAbove)
	check(c.RetryAfter < 0 || c.HangFor < 0, "negative retry-after or hang duration")
	total := 0.0
	rate := func(name string, p float64) {
		check(!(p >= 0 && p <= 1), "%s %v is not a probability", name, p)
		total += p
	}
	rate("hang rate", c.HangRate)
	rate("drop rate", c.DropRate)
	for status, p := range c.ErrorRates {
		check(status < 400 || status > 599, "error status %d is not in 400-599", status)
		rate(fmt.Sprintf("error rate for %d", status), p)
	}
	check(total > 1+1e-9, "fault rates add up to %v, more than 1", total)
	for i, w := range c.Outages {
		check(w.Start < 0 || w.End <= w.Start, "outage %s-%s is empty or negative", w.Start, w.End)
		check(w.Mode != OutageRefuse && w.Mode != OutageUnavailable, "unknown outage mode %q", w.Mode)
		if i > 0 {
			check(w.Start < c.Outages[i-1].End, "outages %s-%s and %s-%s overlap",
				c.Outages[i-1].Start, c.Outages[i-1].End, w.Start, w.End)
		}
	}
	return errors.Join(errs...)
}
