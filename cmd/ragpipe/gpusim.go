package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/embed/gpusim"
)

// newGpusimCmd returns "ragpipe gpusim": a simulated GPU embedding server
// speaking the OpenAI embeddings API, with configurable capacity and faults.
// It runs until the command's context ends (SIGINT/SIGTERM in the root).
func newGpusimCmd() *cobra.Command {
	var (
		cfg        gpusim.Config
		errorRates []string
		outages    []string
	)
	cmd := &cobra.Command{
		Use:   "gpusim",
		Short: "Run a simulated GPU embedding server (OpenAI-compatible)",
		Long: `Run an OpenAI-compatible embedding server that behaves like one GPU:
a batch of n inputs holds one of --max-concurrent slots for
--base-latency + n × --per-item, and faults can be injected.

Vectors are those of the in-process "hash" embedder of the same --dim, so
documents embedded through gpusim match queries embedded with "hash".

Faults: --error-rate STATUS=P (repeatable) answers with STATUS with
probability P; --hang-rate and --drop-rate hang or reset requests;
--max-batch and --oom-above reject big batches with 413 and 500 "CUDA out of
memory"; --poison MARKER rejects, with 400 naming the index, any request with
an input that contains MARKER; --toxic-marker MARKER answers 500 (a CUDA
fault naming no input) to every request with an input that contains MARKER,
while serving all others; --outage 30s-60s (repeatable, relative to the
start) closes the listener for the window so that connections are refused,
and --outage 30s-60s:503 answers 503 instead.`,
		Example: `  ragpipe gpusim --addr 127.0.0.1:8081 --max-batch 64 \
    --error-rate 500=0.05 --error-rate 429=0.03 --retry-after 1s --outage 30s-60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.ErrorRates, err = parseErrorRates(errorRates); err != nil {
				return err
			}
			if cfg.Outages, err = parseOutages(outages); err != nil {
				return err
			}
			cfg.Logger = slog.Default()
			ctx := cmd.Context()
			// Closed below, after the final statistics, not by ctx.
			srv, err := gpusim.Start(context.WithoutCancel(ctx), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "gpusim listening on %s\n", srv.URL())
			<-ctx.Done()
			st := srv.Stats()
			slog.Info("gpusim shutting down", "requests", st.Requests, "batches", st.Batches,
				"inputs", st.Inputs, "errors", st.Errors, "dropped", st.Dropped, "hung", st.Hung,
				"abandoned", st.Abandoned, "toxic", st.Toxic, "peak_active", st.PeakActive)
			return srv.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8081", "listen address")
	f.IntVar(&cfg.Dim, "dim", gpusim.DefaultDim, "vector dimension")
	f.StringVar(&cfg.Model, "model", "", `model name announced (default "hash-<dim>")`)
	f.DurationVar(&cfg.BaseLatency, "base-latency", gpusim.DefaultBaseLatency, "fixed time to execute a batch")
	f.DurationVar(&cfg.PerItemLatency, "per-item", gpusim.DefaultPerItemLatency, "additional time per input of a batch")
	f.IntVar(&cfg.MaxBatch, "max-batch", 0, "most inputs per request, above: 413 (0 = unlimited)")
	f.IntVar(&cfg.MaxConcurrent, "max-concurrent", gpusim.DefaultMaxConcurrent, "batches executing at once; others queue")
	f.IntVar(&cfg.OOMAbove, "oom-above", 0, `batches larger than this fail with 500 "CUDA out of memory" (0 = off)`)
	f.StringArrayVar(&errorRates, "error-rate", nil, "STATUS=PROBABILITY, e.g. 500=0.05 (repeatable)")
	f.DurationVar(&cfg.RetryAfter, "retry-after", 0, "Retry-After sent with 429 and 503 (0 = none)")
	f.Float64Var(&cfg.HangRate, "hang-rate", 0, "probability that a request hangs (60s or until the client leaves)")
	f.DurationVar(&cfg.HangFor, "hang-for", gpusim.DefaultHangFor, "how long a hanging request sleeps")
	f.Float64Var(&cfg.DropRate, "drop-rate", 0, "probability that a connection is reset without an answer")
	f.StringArrayVar(&outages, "outage", nil, "START-END[:refuse|:503] after start, e.g. 30s-60s (repeatable)")
	f.StringVar(&cfg.PoisonMarker, "poison", "", "reject with 400 any request with an input containing this marker")
	f.StringVar(&cfg.ToxicMarker, "toxic-marker", "", "answer 500 to every request with an input containing this marker (a CUDA fault), serving all others")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the fault generator")
	return cmd
}

// parseErrorRates parses STATUS=PROBABILITY values.
func parseErrorRates(values []string) (map[int]float64, error) {
	if len(values) == 0 {
		return nil, nil
	}
	rates := make(map[int]float64, len(values))
	for _, v := range values {
		status, prob, ok := strings.Cut(v, "=")
		code, err1 := strconv.Atoi(strings.TrimSpace(status))
		p, err2 := strconv.ParseFloat(strings.TrimSpace(prob), 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--error-rate %q: want STATUS=PROBABILITY, e.g. 500=0.05", v)
		}
		rates[code] += p
	}
	return rates, nil
}

// parseOutages parses START-END[:MODE] values such as 30s-1m or 30s-60s:503.
func parseOutages(values []string) ([]gpusim.Window, error) {
	var windows []gpusim.Window
	for _, v := range values {
		span, mode, _ := strings.Cut(v, ":")
		from, to, ok := strings.Cut(span, "-")
		start, err1 := time.ParseDuration(strings.TrimSpace(from))
		end, err2 := time.ParseDuration(strings.TrimSpace(to))
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--outage %q: want START-END[:refuse|:503], e.g. 30s-60s", v)
		}
		w := gpusim.Window{Start: start, End: end, Mode: gpusim.OutageMode(mode)}
		windows = append(windows, w)
	}
	return windows, nil
}
