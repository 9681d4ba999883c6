package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/stage"
	"github.com/ragpipe/ragpipe/store"
)

func newIndexCmd(g *globals) *cobra.Command {
	var (
		w   workerFlags
		dsn string
	)
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Index vectors: chunks.embedded → vector store + vectors.indexed; documents.failed and documents.deleted remove versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dsn == "" {
				dsn = g.storeDir()
			}
			// Chunks go to the index namespace of their model (see
			// store.Router); deletes and failures to every namespace.
			nss, err := store.OpenNamespaces(cmd.Context(), dsn, false)
			if err != nil {
				return err
			}
			st := store.NewRouter(nss, slog.Default())
			defer st.Close()
			var opts []stage.IndexOption
			missing, err := topicMissing(cmd.Context(), g, event.TopicCatalog)
			if err != nil {
				return err
			}
			if missing {
				// A cluster provisioned before the catalog: index as
				// before rather than stall on a topic that is not there.
				slog.Warn("documents.catalog does not exist: indexing without cataloging (ingest re-publishes unchanged files); run `ragpipe topics apply` to create it")
				opts = append(opts, stage.WithoutCatalog())
			}
			return w.run(cmd.Context(), g, stage.IndexWorker(st, opts...))
		},
	}
	w.register(cmd, stage.IndexGroup, stage.IndexBatchSize)
	cmd.Flags().StringVar(&dsn, "store", "", "vector store: a directory (embedded store, default DATA/store) or postgres://… (PostgreSQL with pgvector; several index workers may share it)")
	return cmd
}
