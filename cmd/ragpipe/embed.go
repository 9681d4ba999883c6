package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/stage"
)

// embedderFlags choose the embedder (embed and search must agree).
type embedderFlags struct {
	embedders []string
	model     string
	dim       int
	timeout   time.Duration
	maxInputs int
	maxTokens int
	hedgeMult float64
	hedgeMin  time.Duration
}

func (e *embedderFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&e.embedders, "embedder", strings.Split(envOr("RAGPIPE_EMBEDDER", "hash"), ","), `"hash" (in-process, lexical), the base URL of an OpenAI-compatible server (http://127.0.0.1:8081/v1), or tei+http://HOST:PORT for TEI's native API; repeat for several endpoints (env RAGPIPE_EMBEDDER, comma-separated; API key from RAGPIPE_EMBEDDER_API_KEY or OPENAI_API_KEY)`)
	f.StringVar(&e.model, "model", envOr("RAGPIPE_MODEL", ""), "model name sent to the server (env RAGPIPE_MODEL)")
	f.IntVar(&e.dim, "dim", 0, "vector dimension (hash: default 384; server: 0 learns it)")
	f.DurationVar(&e.timeout, "embedder-timeout", embed.DefaultTimeout, "timeout of one embedding request (the backstop: slow requests are hedged long before)")
	f.IntVar(&e.maxInputs, "max-inputs", 0, fmt.Sprintf("max inputs per embedding request (0: %d, or TEI's /info limit); lowered automatically after a 413", embed.DefaultMaxInputs))
	f.Float64Var(&e.hedgeMult, "hedge-multiplier", embed.DefaultHedgeMultiplier, "a request running this many times its endpoint's recent p99 latency is sent again (hedged); negative turns hedging off")
	f.DurationVar(&e.hedgeMin, "hedge-floor", embed.DefaultHedgeFloor, "shortest wait before a request is hedged")
	f.IntVar(&e.maxTokens, "max-input-tokens", 0, "inputs over this many tokens are rejected without a request (0: none, or TEI's /info limit)")
}

// open builds the embedder. Without --model, an OpenAI-compatible server
// that lists exactly one model in GET /v1/models gets that one.
func (e *embedderFlags) open(ctx context.Context) (embed.Embedder, error) {
	var specs []embed.Spec
	for _, name := range e.embedders {
		model := e.model
		if name == "hash" {
			model = ""
		}
		specs = append(specs, embed.Spec{Embedder: name, Model: model, Dim: e.dim, Timeout: e.timeout,
			MaxInputs: e.maxInputs, MaxInputTokens: e.maxTokens, Logger: slog.Default()})
	}
	if err := discoverModel(ctx, specs); err != nil {
		return nil, err
	}
	return embed.OpenAllWith(specs, embed.PoolConfig{Logger: slog.Default(), HedgeMultiplier: e.hedgeMult, HedgeFloor: e.hedgeMin})
}

// discoverModel fills in the model of specs that need one from the first
// such server's model list; every endpoint must serve the same model.
func discoverModel(ctx context.Context, specs []embed.Spec) error {
	var model string
	for i := range specs {
		if !specs[i].NeedsModel() {
			continue
		}
		if model == "" {
			m, err := embed.DiscoverModel(ctx, specs[i])
			switch {
			case errors.Is(err, embed.ErrSeveralModels):
				return fmt.Errorf("%w; choose one with --model (env RAGPIPE_MODEL)", err)
			case err != nil:
				slog.Debug("no model from the server's list", "embedder", specs[i].Embedder, "err", err)
				return fmt.Errorf("embed: a model name is required for %s: give --model (env RAGPIPE_MODEL)", specs[i].Embedder)
			}
			model = m
			slog.Info("using the server's only model", "embedder", specs[i].Embedder, "model", model)
		}
		specs[i].Model = model
	}
	return nil
}

func newEmbedCmd(g *globals) *cobra.Command {
	var (
		w       workerFlags
		ef      embedderFlags
		weights string
	)
	cmd := &cobra.Command{
		Use:   "embed",
		Short: "Embed chunks: documents.parsed (and .high, .low) → chunks.embedded (a consumer-group worker)",
		Long: `Embeds the chunks of documents.parsed.high, documents.parsed and documents.parsed.low
in one consumer group. With a backlog at several priorities, the chunks sent to the
embedder are shared by --priority-weights (counted in chunks: high=8,normal=3,low=1
gives high 8/12, normal 3/12 and low 1/12), and a priority with nothing waiting
leaves its share to the others, so high drains first and low always progresses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := stage.ParsePriorityWeights(weights)
			if err != nil {
				return fmt.Errorf("--priority-weights: %w", err)
			}
			em, err := ef.open(cmd.Context())
			if err != nil {
				return err
			}
			st := stage.EmbedWorker(em)
			st.TopicWeights = stage.PriorityTopicWeights(pw)
			return w.run(cmd.Context(), g, st, em)
		},
	}
	cmd.Flags().StringVar(&weights, "priority-weights", stage.FormatPriorityWeights(stage.DefaultPriorityWeights()),
		"shares of the priorities when each has a backlog, counted in chunks (PRIORITY=WEIGHT, comma-separated; weights 1-1000; a priority left out keeps its default)")
	w.register(cmd, stage.EmbedGroup, stage.EmbedBatchSize)
	ef.register(cmd)
	return cmd
}
