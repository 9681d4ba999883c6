package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	var err error
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		err = runBaseline(ctx, os.Args[2:])
	} else {
		err = runAll(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// repoRoot is the nearest folder above the working directory with go.mod.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("not inside the ragpipe module (no go.mod above)")
		}
		d = up
	}
}

func runAll(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "every scenario at small scale (a smoke run)")
	only := fs.String("only", "", "comma-separated scenario names to run (default: all)")
	report := fs.String("report", "BENCHMARKS.md", "report to write, relative to the repo root (empty: none)")
	figures := fs.String("figures", "docs/figures", "folder of the figures, relative to the repo root")
	lanes := fs.Int("lanes", 0, "scenarios run at once, each lane on a Kafka cluster of its own (default 1, and 3 with -quick)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ragpipe-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logs := filepath.Join(repo, "bench", "out", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	picked := pick(scenarios(scale{quick: *quick}), splitComma(*only))
	n := *lanes
	if n <= 0 {
		n = 1
		if *quick {
			n = quickLanes
		}
	}
	if os.Getenv("RAGPIPE_BENCH_BROKERS") != "" {
		n = 1 // one given cluster: scenarios must not share it at once
	}
	n = min(n, max(1, len(picked)))
	// Kafka starts while ragpipe and the Parallel Consumer baseline build.
	var (
		bin          string
		binErr       error
		pcJar, pcWhy string
		built        = make(chan struct{})
	)
	go func() {
		defer close(built)
		bin, binErr = buildRagpipe(ctx, repo, tmp)
		pcJar, pcWhy = buildPC(ctx, repo)
	}()
	clusters, err := startClusters(ctx, repo, n)
	<-built
	for _, k := range clusters {
		defer k.stop()
	}
	if err != nil {
		return err
	}
	if binErr != nil {
		return binErr
	}
	e := &env{ragpipe: bin, self: self, logs: logs, pcJar: pcJar, pcNote: pcWhy}
	began := time.Now()
	var (
		mu      sync.Mutex
		ceiling float64
		byIndex = map[int]result{}
		wg      sync.WaitGroup
	)
	for l, lane := range assignLanes(picked, n) {
		le := *e
		le.kafka = clusters[l]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ps := range lane {
				sc := ps.sc
				if sc.Kind == kindPC && le.pcJar == "" {
					slog.Warn("skipping the Parallel Consumer baseline", "scenario", sc.Name, "why", le.pcNote)
					continue
				}
				if ctx.Err() != nil {
					return
				}
				slog.Info("scenario", "name", sc.Name, "chunks", sc.Corpus.chunks(), "lane", l)
				res := runScenario(ctx, &le, sc, ps.index)
				if ctx.Err() != nil {
					return
				}
				logResult(res)
				mu.Lock()
				byIndex[ps.index] = res
				mu.Unlock()
				if sc.Name == "engine-bound" {
					// Measured right after the engine-bound run, so that
					// both see the same machine load.
					c, err := embedderCeiling(ctx, &le, scale{quick: *quick}.d(8*time.Second, 2*time.Second), ceilingConns)
					if err != nil {
						slog.Warn("embedder ceiling", "err", err)
					}
					slog.Info("embedder ceiling", "per_min", int(c*60))
					mu.Lock()
					ceiling = c
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var results []result
	for _, ps := range picked {
		if r, ok := byIndex[ps.index]; ok {
			results = append(results, r)
		}
	}
	if *report == "" {
		return nil
	}
	figDir := filepath.Join(repo, *figures)
	figs, err := writeFigures(figDir, results)
	if err != nil {
		return err
	}
	reportPath := filepath.Join(repo, *report)
	rel, err := filepath.Rel(filepath.Dir(reportPath), figDir)
	if err != nil {
		return err
	}
	return writeReport(reportPath, filepath.ToSlash(rel), figs, results, ceiling, e.pcNote, *quick, n, time.Since(began))
}

func logResult(r result) {
	attrs := []any{"name", r.sc.Name, "per_min", int(r.rate * 60), "cap_share", fmt.Sprintf("%.2f", r.capShare),
		"p50", r.lat.P50.Round(time.Millisecond), "p99", r.lat.P99.Round(time.Millisecond),
		"rss_mb", r.peakRSS >> 20, "cpu_s_per_1k", fmt.Sprintf("%.3f", r.cpuPer1k),
		"inputs", r.v.Inputs, "delivered", r.v.Delivered, "lost", r.v.Lost, "dup", r.v.Duplicates,
		"order", r.v.OrderErrors, "dlq", r.v.DeadLettered, "took", r.took.Round(time.Second),
		"load", r.load[1]}
	if r.err != nil {
		attrs = append(attrs, "err", r.err)
	}
	if r.timedOut {
		attrs = append(attrs, "timed_out", true)
	}
	slog.Info("result", attrs...)
}
