package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/store"
)

// searchOptions configures one search.
type searchOptions struct {
	Tenant string
	Query  string
	K      int
	// MinScore drops hits scoring below it (cosine similarity, -1..1).
	MinScore float64
	// JSON prints one JSON document instead of text.
	JSON bool
	// Where keeps only chunks whose metadata holds each key with its value.
	Where map[string]string
	// Namespace, when named, is the index namespace searched: a query
	// embedder of another model or dimension is refused.
	Namespace store.Namespace
}

func newSearchCmd(g *globals) *cobra.Command {
	var (
		ef      embedderFlags
		o       searchOptions
		dsn     string
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "search [flags] QUERY",
		Short: "Search the indexed chunks (embeds the query with the same embedder)",
		Long: `Search one tenant's indexed chunks: the query is embedded with the same embedder
the index was built with and compared by cosine similarity. Each document answers
from its newest complete version only.

--json prints one JSON object for scripts:
  {"query": "...", "tenant": "...", "k": 5, "min_score": 0, "hits": [
    {"rank": 1, "score": 0.83, "tenant_id": "...", "doc_id": "...", "doc_version": 1712345678901,
     "chunk_index": 0, "chunk_count": 3, "text": "...", "title": "...", "source": "...",
     "heading": "...", "model": "...", "metadata": {"page": "3"}}]}

--filter KEY=VALUE (repeatable) keeps only chunks whose metadata has each pair:
YAML front matter of Markdown, PDF and DOCX document properties, a PDF chunk's page.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dsn == "" {
				dsn = g.storeDir()
			}
			if math.IsNaN(o.MinScore) || o.MinScore < -1 || o.MinScore > 1 {
				return fmt.Errorf("--min-score must be between -1 and 1, got %v", o.MinScore)
			}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" {
					return fmt.Errorf("--filter %q: want KEY=VALUE, e.g. team=search", f)
				}
				if o.Where == nil {
					o.Where = map[string]string{}
				}
				o.Where[k] = v
			}
			em, err := ef.open(cmd.Context())
			if err != nil {
				return err
			}
			st, ns, err := openActive(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			o.Namespace = ns
			o.Query = strings.Join(args, " ")
			return runSearch(cmd.Context(), cmd.OutOrStdout(), em, st, o)
		},
	}
	ef.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Tenant, "tenant", "default", "tenant to search (a search never sees another tenant's chunks)")
	f.IntVar(&o.K, "k", 5, "number of results")
	f.Float64Var(&o.MinScore, "min-score", -1, "drop results whose cosine similarity is below this (-1..1)")
	f.BoolVar(&o.JSON, "json", false, "print the results as one JSON object")
	f.StringArrayVar(&filters, "filter", nil, "KEY=VALUE: only chunks whose metadata (front matter, document properties, page) has it; repeat to require several")
	f.StringVar(&dsn, "store", "", "vector store: a directory (embedded store, default DATA/store) or postgres://… (PostgreSQL with pgvector)")
	return cmd
}

// search prints the k best chunks for query as text.
func search(ctx context.Context, w io.Writer, em embed.Embedder, st store.Store, tenant, query string, k int) error {
	return runSearch(ctx, w, em, st, searchOptions{Tenant: tenant, Query: query, K: k, MinScore: -1})
}

type jsonHit struct {
	Rank  int     `json:"rank"`
	Score float32 `json:"score"`
	store.Chunk
}

type jsonResult struct {
	Query    string    `json:"query"`
	Tenant   string    `json:"tenant"`
	K        int       `json:"k"`
	MinScore float64   `json:"min_score"`
	Hits     []jsonHit `json:"hits"`
}

// openActive opens the active index namespace of the store location dsn
// for search.
func openActive(ctx context.Context, dsn string) (store.Store, store.Namespace, error) {
	nss, err := store.OpenNamespaces(ctx, dsn, true)
	if err != nil {
		return nil, store.Namespace{}, err
	}
	defer nss.Close()
	ns, err := store.Active(ctx, nss)
	if err != nil {
		return nil, store.Namespace{}, err
	}
	st, err := nss.OpenNamespace(ctx, ns.Name, true)
	if err != nil {
		return nil, store.Namespace{}, err
	}
	return st, ns, nil
}

// checkQueryModel refuses a query embedder whose model or dimension is
// not the namespace's. A namespace without a model recorded (a store from
// before namespaces) checks the dimension only, and the store checks it
// too.
func checkQueryModel(ns store.Namespace, model string, dim int) error {
	if ns.Name == "" {
		return nil
	}
	switch {
	case ns.Model != "" && (ns.Model != model || (ns.Dimensions != 0 && ns.Dimensions != dim)):
		return fmt.Errorf("search: the query embedder is model %s (%d dims) but the active index namespace %s holds model %s (%d dims): search with --model %s (and an --embedder serving it)",
			model, dim, ns.Name, ns.Model, ns.Dimensions, ns.Model)
	case ns.Dimensions != 0 && ns.Dimensions != dim:
		return fmt.Errorf("search: the query embedder is model %s (%d dims) but the active index namespace %s holds %d-dimensional vectors (model not recorded): search with --model set to the model that built it",
			model, dim, ns.Name, ns.Dimensions)
	}
	return nil
}

func runSearch(ctx context.Context, w io.Writer, em embed.Embedder, st store.Store, o searchOptions) error {
	vecs, err := em.Embed(ctx, []string{o.Query})
	if err != nil {
		return fmt.Errorf("embedding the query: %w", err)
	}
	if err := checkQueryModel(o.Namespace, em.Model(), len(vecs[0])); err != nil {
		return err
	}
	hits, err := st.SearchWhere(ctx, o.Tenant, vecs[0], o.K, o.Where)
	if err != nil {
		return err
	}
	kept := hits[:0]
	for _, h := range hits {
		if float64(h.Score) >= o.MinScore {
			kept = append(kept, h)
		}
	}
	hits = kept
	if o.JSON {
		res := jsonResult{Query: o.Query, Tenant: o.Tenant, K: o.K, MinScore: o.MinScore, Hits: []jsonHit{}}
		for i, h := range hits {
			res.Hits = append(res.Hits, jsonHit{Rank: i + 1, Score: h.Score, Chunk: h.Chunk})
		}
		return writeJSON(w, res)
	}
	fmt.Fprintf(w, "search %q (tenant %s): %d result(s)\n", o.Query, o.Tenant, len(hits))
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
