package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/ingest/sample"
	"github.com/ragpipe/ragpipe/stage"
	"github.com/ragpipe/ragpipe/store"
	"github.com/ragpipe/ragpipe/topic"
)

var demoQueries = []string{
	"how are consumer offsets committed after processing",
	"what to do when the GPU embedding server is overloaded",
	"how much disk space does retention use on the brokers",
}

func newDemoCmd(g *globals) *cobra.Command {
	var (
		ef      embedderFlags
		f       ingestFlags
		mf      metricsFlags
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo [DIR]",
		Short: "Run the whole pipeline on an embedded broker: ingest, embed, index, search",
		Long: `Starts the embedded broker, applies the topics with one replica, ingests DIR (or the
built-in sample corpus), runs the embed and index stages in-process until every chunk
is indexed, then runs three example searches. Data goes to a temporary folder unless
--data is given.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			data := g.data
			if !cmd.Flags().Changed("data") {
				d, err := os.MkdirTemp("", "ragpipe-demo-")
				if err != nil {
					return err
				}
				data = d
			}
			if !cmd.Flags().Changed("log-level") {
				slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})))
			}
			em, err := ef.open(cmd.Context())
			if err != nil {
				return err
			}
			corpus := ""
			if len(args) == 1 {
				corpus = args[0]
			} else {
				corpus = filepath.Join(data, "corpus")
				if err := sample.WriteDir(corpus); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			obs, err := mf.start(ctx)
			if err != nil {
				return err
			}
			defer obs.stop()
			obs.pool(em)
			return runDemo(ctx, out, cmd.ErrOrStderr(), data, corpus, em, f, obs)
		},
	}
	ef.register(cmd)
	f.register(cmd)
	mf.register(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

func runDemo(ctx context.Context, out, errw io.Writer, data, corpus string, em embed.Embedder, f ingestFlags, obs *observer) error {
	start := time.Now()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{DataDir: filepath.Join(data, "broker")})
	if err != nil {
		return err
	}
	defer b.Close()
	kc := broker.Config{Brokers: b.Addrs()}
	opts, _ := kc.Opts()
	fmt.Fprintf(out, "broker   embedded Kafka-protocol broker on %s (data in %s)\n", b.Addrs()[0], data)

	admCl, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(250*time.Millisecond))...)
	if err != nil {
		return err
	}
	specs, _ := topic.Pipeline(topic.Options{Partitions: 6, ReplicationFactor: 1})
	res, err := topic.Apply(ctx, kadm.NewClient(admCl), specs)
	admCl.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "topics   %d topics ready (6 partitions, 1 replica)\n", len(res))

	cl, err := producer(kc)
	if err != nil {
		return err
	}
	ing, err := f.stage(cl)
	if err != nil {
		cl.Close()
		return err
	}
	ing.Stderr = errw
	sum, err := ing.Run(ctx, []string{corpus})
	cl.Close()
	if err != nil && !errors.Is(err, stage.ErrSomePathsFailed) {
		return err
	}
	fmt.Fprintf(out, "ingest   %d documents, %d chunks from %s (%d failed)\n", sum.Documents, sum.Chunks, corpus, sum.Failed)
	if sum.Chunks == 0 {
		return errors.New("nothing to index: no document could be parsed")
	}

	// Through the namespaces, as `ragpipe index` and `search` do: a --data
	// folder that was re-embedded keeps its models apart.
	nss, err := store.OpenNamespaces(ctx, filepath.Join(data, "store"), false)
	if err != nil {
		return err
	}
	st := store.NewRouter(nss, slog.Default())
	defer st.Close()
	newEngine := func(w stage.Worker) (*engine.Engine, error) {
		cfg, bind := obs.stage(w.Name, w.Configure(engine.Config{ClientOpts: opts, Logger: slog.Default(), DrainTimeout: 5 * time.Second}))
		e, err := engine.New(cfg)
		if err == nil {
			bind(e)
		}
		return e, err
	}
	embedEng, err := newEngine(stage.EmbedWorker(em))
	if err != nil {
		return err
	}
	indexEng, err := newEngine(stage.IndexWorker(st))
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 2)
	go func() { errc <- embedEng.Run(runCtx) }()
	go func() { errc <- indexEng.Run(runCtx) }()

	// The index stage also reads documents.failed: one record per file that
	// failed to parse.
	total := int64(sum.Chunks)
	indexTotal := total + int64(sum.Failed)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var failed error
	for failed == nil {
		e, i := embedEng.Stats().Done, indexEng.Stats().Done
		fmt.Fprintf(out, "embed    %d/%d chunks   index %d/%d chunks\n", min(e, total), total, min(i, total), total)
		if i >= indexTotal {
			break
		}
		select {
		case <-tick.C:
		case err := <-errc:
			failed = fmt.Errorf("a stage stopped: %w", err)
		case <-ctx.Done():
			failed = fmt.Errorf("demo did not finish in time (%d/%d indexed): %w", i, total, ctx.Err())
		}
	}
	stop()
	for range 2 - btoi(failed != nil) {
		if err := <-errc; err != nil && failed == nil {
			failed = err
		}
	}
	if failed != nil {
		return failed
	}
	n, _ := st.Len(ctx)
	fmt.Fprintf(out, "done     %d chunks indexed in %s\n\n", n, time.Since(start).Round(time.Millisecond))

	for _, q := range demoQueries {
		if err := search(ctx, out, em, st, f.tenant, q, 3); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, `Next:
  search again       ragpipe search --data %[1]s "your question"
  keep a broker      ragpipe broker --port 9092            (topics and records survive restarts)
                     ragpipe topics apply --replication-factor 1
  run the workers    ragpipe ingest ./docs
                     ragpipe embed  [--embedder http://127.0.0.1:8081/v1 --model M]
                     ragpipe index
  on a real cluster  add --brokers host:9092 (or RAGPIPE_BROKERS) to every command and
                     run more embed/index processes with the same --group to scale out.
`, data)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
