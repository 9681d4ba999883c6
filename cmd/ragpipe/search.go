package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/store"
)

func newSearchCmd(g *globals) *cobra.Command {
	var (
		ef     embedderFlags
		tenant string
		k      int
		dsn    string
	)
	cmd := &cobra.Command{
		Use:   "search [flags] QUERY",
		Short: "Search the indexed chunks (embeds the query with the same embedder)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dsn == "" {
				dsn = g.storeDir()
			}
			em, err := ef.open(cmd.Context())
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), dsn, true)
			if err != nil {
				return err
			}
			defer st.Close()
			return search(cmd.Context(), cmd.OutOrStdout(), em, st, tenant, strings.Join(args, " "), k)
		},
	}
	ef.register(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "default", "tenant to search")
	cmd.Flags().IntVar(&k, "k", 5, "number of results")
	cmd.Flags().StringVar(&dsn, "store", "", "vector store (default DATA/store)")
	return cmd
}

// search prints the k best chunks for query.
func search(ctx context.Context, w io.Writer, em embed.Embedder, st store.Store, tenant, query string, k int) error {
	vecs, err := em.Embed(ctx, []string{query})
	if err != nil {
		return fmt.Errorf("embedding the query: %w", err)
	}
	hits, err := st.Search(ctx, tenant, vecs[0], k)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "search %q (tenant %s): %d result(s)\n", query, tenant, len(hits))
	for i, h := range hits {
		fmt.Fprintf(w, "%2d. %.3f  %s  chunk %d/%d", i+1, h.Score, h.DocID, h.ChunkIndex, h.ChunkCount)
		if h.Heading != "" {
			fmt.Fprintf(w, "  [%s]", h.Heading)
		}
		fmt.Fprintf(w, "\n    %s\n", snippet(h.Text, 160))
	}
	return nil
}

func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
