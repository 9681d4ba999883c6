package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/catalog"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest"
	"github.com/ragpipe/ragpipe/stage"
)

type ingestFlags struct {
	tenant      string
	partitionBy string
	maxTokens   int
	overlap     int
	maxFileSize int64
	encoding    string
	tokenizer   string
	source      string
	sync        bool
	force       bool
	priority    string
}

func (f *ingestFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "default", "tenant the documents belong to (part of the record key)")
	fl.StringVar(&f.partitionBy, "partition-by", string(event.PartitionByDocument), "which part of the key picks the partition: document (spread), or tenant (one tenant's documents share a partition; per-document order unchanged)")
	fl.IntVar(&f.maxTokens, "max-tokens", ingest.DefaultMaxTokens, "token budget of a chunk")
	fl.IntVar(&f.overlap, "overlap", ingest.DefaultOverlapTokens, "tokens repeated between consecutive chunks of a section")
	fl.Int64Var(&f.maxFileSize, "max-file-size", ingest.DefaultMaxBytes, "largest file to ingest, in bytes")
	fl.StringVar(&f.encoding, "encoding", "", "character encoding of text and HTML files, e.g. windows-1252, iso-8859-15, utf-16le (default: detect)")
	fl.StringVar(&f.tokenizer, "tokenizer", "", "Hugging Face tokenizer.json of the embedding model: --max-tokens and --overlap count its tokens, special tokens included (default: a fast estimate)")
	fl.StringVar(&f.source, "source", "", "name a source: doc_id becomes NAME/<path relative to the source's root>, the root being the folder of its first ingest (remembered in DATA/sources.json), and versions change only when the content does")
	fl.BoolVar(&f.sync, "sync", false, "with --source: delete (documents.deleted) the source's documents under PATH that are no longer on disk")
	fl.BoolVar(&f.force, "force", false, "publish every file, also those whose content is unchanged since their version became searchable (documents.catalog)")
	fl.StringVar(&f.priority, "priority", string(event.PriorityNormal), "priority of the chunks: high (documents.parsed.high), normal (documents.parsed) or low (documents.parsed.low); the embed stage drains them with weighted shares (embed --priority-weights)")
}

// stage returns the ingest stage the flags describe, with the tokenizer
// loaded and the settings checked.
func (f *ingestFlags) stage(cl *kgo.Client) (*stage.Ingest, error) {
	prio, err := event.ParsePriority(f.priority)
	if err != nil {
		return nil, fmt.Errorf("--priority: %w", err)
	}
	s := &stage.Ingest{Priority: prio,
		Client: cl, Tenant: f.tenant,
		Loader:  ingest.Loader{MaxBytes: f.maxFileSize, Encoding: f.encoding},
		Chunker: ingest.Chunker{MaxTokens: f.maxTokens, OverlapTokens: f.overlap},
	}
	if f.tokenizer != "" {
		tk, err := ingest.LoadTokenizer(f.tokenizer)
		if err != nil {
			return nil, err
		}
		s.Chunker.Tokenizer = tk
	}
	if err := s.Loader.Validate(); err != nil {
		return nil, err
	}
	if err := s.Chunker.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func newIngestCmd(g *globals) *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH...",
		Short: "Parse and chunk files (Markdown, text, HTML, PDF, DOCX, ODT, ...) onto documents.parsed",
		Long: `Walks files and folders; each file becomes a document whose doc_id is its path
relative to the PATH argument. Formats: Markdown, plain text, HTML, reStructuredText,
AsciiDoc, PDF, DOCX and ODT, by extension, and files without one by their content.
Text in UTF-8, UTF-16 or Latin-1 is detected (HTML by its declared charset);
--encoding names another. Files are chunked by headings and paragraphs within a token
budget, and one ChunkParsed per chunk is produced in order, with the document's
metadata (front matter, document properties, and the page of PDF chunks). With
--tokenizer, chunk sizes are counted in the embedding model's own tokens, so that no
chunk is over its input limit. A file that cannot be read or parsed is reported on
stderr and as a DocumentFailed, and ingest goes on; it then exits with status 2
(the rest was ingested).

Unchanged content publishes nothing: ingest first reads the tenant's entries of
documents.catalog, where the index stage records the SHA-256 of each document's
bytes once its version is searchable, and skips (counts as unchanged) every file
whose bytes hash to its entry. --force publishes every file. Without the topic (run
"ragpipe topics apply") ingest warns and publishes every file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if _, err := event.ParsePriority(f.priority); err != nil {
				return fmt.Errorf("--priority: %w", err)
			}
			kc := g.kafka()
			if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
				return err
			}
			part, err := event.ParsePartitioning(f.partitionBy)
			if err != nil {
				return err
			}
			cl, err := producer(kc, kgo.RecordPartitioner(part.Partitioner()))
			if err != nil {
				return err
			}
			defer cl.Close()
			s, err := f.stage(cl)
			if err != nil {
				return err
			}
			if f.sync && f.source == "" {
				return errors.New("--sync needs --source: only a named source knows its documents")
			}
			var src *stage.Source
			if f.source != "" {
				srcs, err := stage.OpenSources(filepath.Join(g.data, "sources.json"))
				if err != nil {
					return err
				}
				defer srcs.Close()
				src, err = srcs.Source(f.tenant, f.source, args)
				if err != nil {
					return err
				}
				s.DocID, s.Version = src.DocID, src.Version
				// Saved whatever the outcome: a version remembered but not
				// published is published again, unchanged, by the next run.
				defer func() {
					if err := srcs.Save(); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "ragpipe ingest: %v\n", err)
					}
				}()
			}
			s.Stderr = cmd.ErrOrStderr()
			if !f.force {
				s.Catalog = readCatalog(ctx, cmd.ErrOrStderr(), kc, f.tenant)
			}
			stop := progress(ctx, cmd.ErrOrStderr(), s, args)
			sum, err := s.Run(ctx, args)
			stop()
			fmt.Fprintf(cmd.OutOrStdout(), "ingested %d document(s), %d chunk(s); %d unchanged; %d file(s) failed\n", sum.Documents, sum.Chunks, sum.Unchanged, sum.Failed)
			if f.sync {
				if err != nil {
					// A path that could not be walked would look deleted.
					fmt.Fprintln(cmd.ErrOrStderr(), "ragpipe ingest: --sync skipped: the ingest did not complete")
				} else if err = syncDeletes(ctx, cmd.OutOrStdout(), cl, f.tenant, src, args); err != nil {
					return err
				}
			}
			return someFailed(sum.Failed, err)
		},
	}
	f.register(cmd)
	return cmd
}

// readCatalog reads the tenant's documents.catalog, or warns once on w and
// returns nil (publish every file) when it cannot: ingest never fails for
// want of a catalog.
func readCatalog(ctx context.Context, w io.Writer, kc broker.Config, tenant string) *catalog.Catalog {
	opts, err := kc.Opts()
	if err != nil {
		fmt.Fprintf(w, "ragpipe ingest: warning: not reading %s (%v); publishing every file\n", event.TopicCatalog, err)
		return nil
	}
	cat, err := catalog.Read(ctx, opts, tenant)
	if err != nil { // catalog.ErrNoTopic names the command that creates it
		fmt.Fprintf(w, "ragpipe ingest: warning: %v; publishing every file, unchanged or not\n", err)
		return nil
	}
	if cat.Skipped > 0 {
		fmt.Fprintf(w, "ragpipe ingest: warning: %d entr(y/ies) of %s could not be read; those documents are published again\n", cat.Skipped, event.TopicCatalog)
	}
	if inc := cat.Incomplete(); len(inc) > 0 {
		fmt.Fprintf(w, "ragpipe ingest: warning: %s read stopped early on %d partition(s) %v (an open transaction?); the files whose entries lie there are published again, unchanged or not\n", event.TopicCatalog, len(inc), inc)
	}
	return cat
}

// someFailed is the outcome of a command that reads files (ingest,
// submit): exitSomeFailed when a file or a path failed and everything else
// went through, err itself when the command failed.
func someFailed(failed int, err error) error {
	switch {
	case errors.Is(err, stage.ErrSomePathsFailed):
		return &exitError{code: exitSomeFailed, msg: fmt.Sprintf("some paths or files failed (%d file(s)); the rest went through", failed)}
	case err != nil:
		return err
	case failed > 0:
		return &exitError{code: exitSomeFailed, msg: fmt.Sprintf("%d file(s) failed; the rest went through", failed)}
	}
	return nil
}

// syncDeletes deletes the source's documents under paths that the ingest
// did not see.
func syncDeletes(ctx context.Context, w io.Writer, cl *kgo.Client, tenant string, src *stage.Source, paths []string) error {
	gone, err := src.Missing(paths)
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		if err := publishDeletes(ctx, cl, tenant, "sync", gone); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "deleted %d document(s) no longer on disk\n", len(gone))
	return nil
}

// producer returns a client for producing pipeline records: idempotent,
// acks from all in-sync replicas (franz-go's defaults).
func producer(kc broker.Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := kc.Opts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(append(opts, kgo.ProducerLinger(5*time.Millisecond)), extra...)...)
}

// progress shows a progress bar on a terminal.
func progress(ctx context.Context, w io.Writer, s *stage.Ingest, roots []string) func() {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	bar := progressbar.NewOptions(stage.Count(ctx, roots),
		progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("ingest"),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	s.Progress = func(p stage.IngestSummary) { _ = bar.Set(p.Files) }
	return func() { _ = bar.Finish() }
}
