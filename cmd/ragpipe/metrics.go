package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/metrics"
)

// metricsFlags serve a worker's metrics and health endpoints.
type metricsFlags struct {
	addr string
}

func (f *metricsFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "metrics-addr", "",
		"serve /metrics (Prometheus), /healthz and /readyz on this address, e.g. :9090; empty turns it off (env RAGPIPE_METRICS_ADDR)")
}

// observer is the metrics of one process, or nothing when --metrics-addr
// is empty (every method is then a no-op).
type observer struct {
	m   *metrics.Metrics
	srv *metrics.Server
}

// start serves the endpoints when the flag is set. The server outlives
// ctx: stop closes it after the workers stopped, and readiness turns 503
// as soon as ctx ends (the drain).
func (f *metricsFlags) start(ctx context.Context) (*observer, error) {
	if f.addr == "" {
		return &observer{}, nil
	}
	m := metrics.New()
	srv, err := metrics.Serve(context.WithoutCancel(ctx), f.addr, m, slog.Default())
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, m.Stopping)
	return &observer{m: m, srv: srv}, nil
}

// stage adds a stage's hooks and client options to cfg; bind must be
// called with the engine built from it.
func (o *observer) stage(name string, cfg engine.Config) (engine.Config, func(*engine.Engine)) {
	if o.m == nil {
		return cfg, func(*engine.Engine) {}
	}
	s := o.m.Stage(name)
	cfg.Hooks = append(cfg.Hooks, s)
	cfg.ClientOpts = append(append([]kgo.Opt(nil), cfg.ClientOpts...), s.ClientOpts()...)
	return cfg, func(e *engine.Engine) { s.Bind(e) }
}

// pool adds an embedder's endpoints when it has any (an embed.Pool).
func (o *observer) pool(em any) {
	if h, ok := em.(metrics.HealthSource); ok && o.m != nil {
		o.m.AddPool(h)
	}
}

func (o *observer) stop() {
	if o.srv != nil {
		_ = o.srv.Close()
	}
}
