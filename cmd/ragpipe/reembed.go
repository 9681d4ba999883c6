package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/stage"
	"github.com/ragpipe/ragpipe/store"
)

// reembedPoll is how often reembed compares its group's committed offsets
// with the end offsets it noted at start.
const reembedPoll = time.Second

// dimensionProbe is the text embedded once to learn the new embedder's
// dimension.
const dimensionProbe = "ragpipe dimension probe"

func newReembedCmd(g *globals) *cobra.Command {
	var (
		w      workerFlags
		ef     embedderFlags
		dsn    string
		name   string
		drop   string
		follow bool
		list   bool
		// allowFailures switches search even when records were
		// dead-lettered during the re-embedding.
		allowFailures bool
	)
	cmd := &cobra.Command{
		Use:   "reembed (--model NEW --embedder URL [--name NS] [--follow] [--allow-failures] | --list | --drop OLD)",
		Short: "Re-embed documents.parsed into a new index namespace and switch search to it when complete",
		Long: `Re-embed every document with a new model into a new index namespace of the store,
then switch search to it.

reembed resolves the new embedder's model and dimension from the server, creates the
namespace NS (default: from the model and dimension, e.g. bge-small-en-v1-5-384) in
state building, and replays documents.parsed and documents.deleted from the earliest
offsets in consumer group ragpipe-reembed-NS, embedding each chunk and upserting it
into NS. It notes the topics' end offsets at start; once the group's committed
offsets reach them on every partition, it activates NS (the active namespace is
retired and kept), notes the end offsets again and runs until the group reaches them
too (what the live pipeline indexed into the old namespace until the switch), and
exits 0. With --follow it keeps NS current afterwards, until stopped. Stopped before
that, a re-run resumes from the group's offsets.

If records were dead-lettered during the re-embedding (documents.dlq, stage reembed),
reembed does not switch: it stops and exits 3, naming how many, since those document
versions would drop out of search; --allow-failures switches anyway.

--list prints the namespaces (name, model, dimensions, state, chunks); --drop OLD
removes a namespace that is not active (the active one is refused, exit 1).

Afterwards restart the embed workers with the new --model, so that new documents land
in NS; --follow covers the documents that arrive until then.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dsn == "" {
				dsn = g.storeDir()
			}
			ctx := cmd.Context()
			switch {
			case list && drop != "":
				return &exitError{code: exitUsage, msg: "reembed: --list and --drop exclude each other"}
			case list:
				return reembedList(ctx, cmd.OutOrStdout(), dsn)
			case drop != "":
				return reembedDrop(ctx, cmd.OutOrStdout(), dsn, drop)
			}
			if name != "" {
				if err := store.ValidNamespaceName(name); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			return reembedRun(ctx, cmd.OutOrStdout(), g, &w, &ef, dsn, name, follow, allowFailures)
		},
	}
	w.register(cmd, "", stage.EmbedBatchSize)
	cmd.Flags().Lookup("group").Usage = "consumer group (default ragpipe-reembed-NS); a re-run with the same group resumes"
	ef.register(cmd)
	f := cmd.Flags()
	f.StringVar(&dsn, "store", "", "vector store: a directory (embedded store, default DATA/store) or postgres://… (PostgreSQL with pgvector)")
	f.StringVar(&name, "name", "", "name of the new index namespace (default: from the model and dimension, e.g. bge-small-en-v1-5-384)")
	f.BoolVar(&follow, "follow", false, "after the switch, keep the namespace current from documents.parsed until stopped")
	f.BoolVar(&allowFailures, "allow-failures", false, "switch search even when records were dead-lettered during the re-embedding (by default reembed exits 3 without switching)")
	f.BoolVar(&list, "list", false, "print the index namespaces (name, model, dimensions, state, chunks) and exit")
	f.StringVar(&drop, "drop", "", "remove the index namespace OLD (not the active one) and exit")
	return cmd
}

// reembedList prints the namespaces.
func reembedList(ctx context.Context, w io.Writer, dsn string) error {
	nss, err := store.OpenNamespaces(ctx, dsn, true)
	if err != nil {
		return err
	}
	defer nss.Close()
	list, err := nss.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODEL\tDIMS\tSTATE\tCHUNKS\tCREATED")
	for _, ns := range list {
		n, err := nss.Len(ctx, ns.Name)
		if err != nil {
			return err
		}
		model, created := ns.Model, "-"
		if model == "" {
			model = "(not recorded)"
		}
		if !ns.CreatedAt.IsZero() {
			created = ns.CreatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", ns.Name, model, ns.Dimensions, ns.State, n, created)
	}
	return tw.Flush()
}

// reembedDrop removes a namespace that is not active.
func reembedDrop(ctx context.Context, w io.Writer, dsn, name string) error {
	nss, err := store.OpenNamespaces(ctx, dsn, false)
	if err != nil {
		return err
	}
	defer nss.Close()
	if err := nss.Drop(ctx, name); err != nil {
		if errors.Is(err, store.ErrActiveNamespace) {
			return &exitError{code: exitFailure, msg: fmt.Sprintf("reembed: refusing to drop %s: it is the active index namespace, which search reads; run `ragpipe reembed` to build and activate another one first", name)}
		}
		return err
	}
	fmt.Fprintf(w, "reembed: dropped index namespace %s of %s\n", name, nss.Describe())
	return nil
}

// reembedRun builds (or resumes) a namespace and switches search to it.
func reembedRun(ctx context.Context, w io.Writer, g *globals, wf *workerFlags, ef *embedderFlags, dsn, name string, follow, allowFailures bool) error {
	em, err := ef.open(ctx)
	if err != nil {
		return err
	}
	vecs, err := em.Embed(ctx, []string{dimensionProbe})
	if err != nil {
		return fmt.Errorf("reembed: asking the new embedder for its dimension: %w", err)
	}
	model, dim := em.Model(), len(vecs[0])
	if name == "" {
		name = store.NamespaceName(model, dim)
	}
	nss, err := store.OpenNamespaces(ctx, dsn, false)
	if err != nil {
		return err
	}
	defer nss.Close()
	ns, err := nss.Create(ctx, name, model, dim)
	if err != nil {
		return err
	}
	if ns.State == store.StateActive && !follow {
		fmt.Fprintf(w, "reembed: index namespace %s (model %s, %d dims) is already active; nothing to do\n", name, model, dim)
		return nil
	}
	st, err := nss.OpenNamespace(ctx, name, false)
	if err != nil {
		return err
	}
	defer st.Close()

	var dead stage.DeadLetters
	worker := stage.ReembedWorker(em, st, name, &dead)
	group := wf.group
	if group == "" {
		group = worker.Group
	}
	wf.group = group
	cl, adm, err := g.admin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	opts, err := g.kafka().Opts()
	if err != nil {
		return err
	}
	target, err := stage.EndOffsets(ctx, adm, stage.ReembedTopics())
	if err != nil {
		return err
	}
	var records int64
	for _, parts := range target {
		for _, end := range parts {
			records += end
		}
	}
	if lost, err := expired(ctx, adm); err != nil {
		slog.Warn("reembed: reading the start offsets", "err", err)
	} else if lost > 0 {
		fmt.Fprintf(w, "reembed: warning: %d records of the chunk topics are gone to retention; documents only in them will be missing from %s (ingest them again with --force, or keep documents.parsed longer: retention.ms)\n", lost, name)
	}
	fmt.Fprintf(w, "reembed: building index namespace %s (model %s, %d dims) in %s; group %s replays %v up to %d offsets\n",
		name, model, dim, nss.Describe(), group, stage.ReembedTopics(), records)

	obs, err := wf.metrics.start(ctx)
	if err != nil {
		return err
	}
	defer obs.stop()
	obs.pool(em)
	e, err := wf.engine(g, worker, obs)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()

	sw := &switchover{
		name: name, group: group, model: model, dim: dim, follow: follow, allowFailures: allowFailures,
		poll: reembedPoll, out: w, logger: slog.Default(),
		progress: func(ctx context.Context, t stage.Target) ([]stage.Behind, error) {
			return stage.Progress(ctx, adm, opts, group, t)
		},
		ends: func(ctx context.Context) (stage.Target, error) {
			return stage.EndOffsets(ctx, adm, stage.ReembedTopics())
		},
		activate: func(ctx context.Context) error {
			if err := refuseEmpty(ctx, nss, name); err != nil {
				return err
			}
			if err := nss.Activate(ctx, name); err != nil {
				return fmt.Errorf("reembed: activating %s: %w", name, err)
			}
			return nil
		},
		chunks:       func(ctx context.Context) (int, error) { return nss.Len(ctx, name) },
		deadLettered: dead.Count,
	}
	return sw.run(ctx, target, ns.State == store.StateActive, done, stop)
}

// expired counts the records of the chunk topics that retention removed
// (their start offsets): a re-embedding cannot replay them.
func expired(ctx context.Context, adm *kadm.Client) (int64, error) {
	var topics []string
	for _, t := range stage.ReembedTopics() {
		if t != event.TopicDeleted {
			topics = append(topics, t)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return 0, err
	}
	if err := starts.Error(); err != nil {
		return 0, err
	}
	var n int64
	starts.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// refuseEmpty refuses to switch search from a namespace holding chunks to
// an empty one (documents.parsed held nothing to replay, e.g. all gone to
// retention).
func refuseEmpty(ctx context.Context, nss store.Namespaces, name string) error {
	n, err := nss.Len(ctx, name)
	if err != nil || n > 0 {
		return err
	}
	active, err := store.Active(ctx, nss)
	if err != nil {
		return err
	}
	if m, err := nss.Len(ctx, active.Name); err != nil || m == 0 {
		return err
	}
	return &exitError{code: exitFailure, msg: fmt.Sprintf("reembed: nothing was re-embedded into %s (documents.parsed holds no chunks: gone to retention?); refusing to switch search away from %s to an empty namespace", name, active.Name)}
}
