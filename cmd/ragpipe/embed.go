package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/stage"
)

// embedderFlags choose the embedder (embed and search must agree).
type embedderFlags struct {
	embedder  string
	model     string
	dim       int
	timeout   time.Duration
	maxInputs int
}

func (e *embedderFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&e.embedder, "embedder", envOr("RAGPIPE_EMBEDDER", "hash"), `"hash" (in-process, lexical) or the base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8081/v1 (env RAGPIPE_EMBEDDER; API key from RAGPIPE_EMBEDDER_API_KEY or OPENAI_API_KEY)`)
	f.StringVar(&e.model, "model", envOr("RAGPIPE_MODEL", ""), "model name sent to the server (env RAGPIPE_MODEL)")
	f.IntVar(&e.dim, "dim", 0, "vector dimension (hash: default 384; server: 0 learns it)")
	f.DurationVar(&e.timeout, "embedder-timeout", 60*time.Second, "timeout of one embedding request")
	f.IntVar(&e.maxInputs, "max-inputs", 256, "max inputs per embedding request")
}

func (e *embedderFlags) open() (embed.Embedder, error) {
	model := e.model
	if e.embedder == "hash" {
		model = ""
	}
	return embed.Open(embed.Spec{Embedder: e.embedder, Model: model, Dim: e.dim, Timeout: e.timeout, MaxInputs: e.maxInputs})
}

func newEmbedCmd(g *globals) *cobra.Command {
	var (
		w  workerFlags
		ef embedderFlags
	)
	cmd := &cobra.Command{
		Use:   "embed",
		Short: "Embed chunks: documents.parsed → chunks.embedded (a consumer-group worker)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			em, err := ef.open()
			if err != nil {
				return err
			}
			failures := stage.NewFailures(0)
			s := &stage.Embed{Embedder: em, Failures: failures}
			return w.run(cmd.Context(), g, "embed", []string{event.TopicParsed}, s.Handle, failures)
		},
	}
	w.register(cmd, "ragpipe-embed", 64)
	ef.register(cmd)
	return cmd
}
