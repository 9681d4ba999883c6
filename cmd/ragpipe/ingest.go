package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/ingest"
	"github.com/ragpipe/ragpipe/stage"
)

type ingestFlags struct {
	tenant      string
	maxTokens   int
	overlap     int
	maxFileSize int64
}

func (f *ingestFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "default", "tenant the documents belong to (part of the record key)")
	fl.IntVar(&f.maxTokens, "max-tokens", ingest.DefaultMaxTokens, "token budget of a chunk")
	fl.IntVar(&f.overlap, "overlap", ingest.DefaultOverlapTokens, "tokens repeated between consecutive chunks of a section")
	fl.Int64Var(&f.maxFileSize, "max-file-size", ingest.DefaultMaxBytes, "largest file to ingest, in bytes")
}

func (f *ingestFlags) stage(cl *kgo.Client) *stage.Ingest {
	return &stage.Ingest{
		Client: cl, Tenant: f.tenant,
		Loader:  ingest.Loader{MaxBytes: f.maxFileSize},
		Chunker: ingest.Chunker{MaxTokens: f.maxTokens, OverlapTokens: f.overlap},
	}
}

func newIngestCmd(g *globals) *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH...",
		Short: "Parse and chunk files (Markdown, text, HTML) onto documents.parsed",
		Long: `Walks files and folders; each file becomes a document whose doc_id is its path
relative to the PATH argument. Files are chunked by headings and paragraphs within a
token budget, and one ChunkParsed per chunk is produced in order. A file that cannot be
read or parsed is reported on stderr and as a DocumentFailed, and ingest goes on; it
then exits with status 2 (the rest was ingested).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kc := g.kafka()
			if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
				return err
			}
			cl, err := producer(kc)
			if err != nil {
				return err
			}
			defer cl.Close()
			s := f.stage(cl)
			s.Stderr = cmd.ErrOrStderr()
			stop := progress(ctx, cmd.ErrOrStderr(), s, args)
			sum, err := s.Run(ctx, args)
			stop()
			fmt.Fprintf(cmd.OutOrStdout(), "ingested %d document(s), %d chunk(s); %d file(s) failed\n", sum.Documents, sum.Chunks, sum.Failed)
			return ingestResult(sum, err)
		},
	}
	f.register(cmd)
	return cmd
}

// ingestResult is ingest's outcome for the exit code: exitSomeFailed when
// a file or a path failed and everything else was ingested.
func ingestResult(sum stage.IngestSummary, err error) error {
	switch {
	case errors.Is(err, stage.ErrSomePathsFailed):
		return &exitError{code: exitSomeFailed, msg: fmt.Sprintf("some paths could not be read and %d file(s) failed; the rest were ingested", sum.Failed)}
	case err != nil:
		return err
	case sum.Failed > 0:
		return &exitError{code: exitSomeFailed, msg: fmt.Sprintf("%d file(s) failed; the rest were ingested", sum.Failed)}
	}
	return nil
}

// producer returns a client for producing pipeline records: idempotent,
// acks from all in-sync replicas (franz-go's defaults).
func producer(kc broker.Config) (*kgo.Client, error) {
	opts, err := kc.Opts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, kgo.ProducerLinger(5*time.Millisecond))...)
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
