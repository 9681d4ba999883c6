package main

import (
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/blob"
	"github.com/ragpipe/ragpipe/ingest"
	"github.com/ragpipe/ragpipe/stage"
)

// parseFlags are the parsing and chunking settings of the parse worker
// (the same loader and chunker as ingest).
type parseFlags struct {
	maxTokens   int
	overlap     int
	maxFileSize int64
	encoding    string
	tokenizer   string
	blobs       string
	timeout     time.Duration
}

func (f *parseFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.maxTokens, "max-tokens", ingest.DefaultMaxTokens, "token budget of a chunk")
	fl.IntVar(&f.overlap, "overlap", ingest.DefaultOverlapTokens, "tokens repeated between consecutive chunks of a section")
	fl.Int64Var(&f.maxFileSize, "max-file-size", ingest.DefaultMaxBytes, "largest document to parse, in bytes")
	fl.StringVar(&f.encoding, "encoding", "", "character encoding of text and HTML documents (default: detect)")
	fl.StringVar(&f.tokenizer, "tokenizer", "", "Hugging Face tokenizer.json of the embedding model (default: a fast estimate)")
	fl.StringVar(&f.blobs, "blobs", "", "blob store for documents over 4 MiB: a directory or file:// URI shared with submit (default DATA/blobs)")
	fl.DurationVar(&f.timeout, "parse-timeout", stage.DefaultParseTimeout, "a document whose parser runs longer is abandoned (an attempt; after 3, the DLQ)")
}

func blobStore(g *globals, location string) (blob.Store, error) {
	if location == "" {
		location = filepath.Join(g.data, "blobs")
	}
	return blob.Open(location)
}

func newParseCmd(g *globals) *cobra.Command {
	var (
		w  workerFlags
		pf parseFlags
	)
	cmd := &cobra.Command{
		Use:   "parse",
		Short: "Parse documents: documents.raw → documents.parsed (a consumer-group worker)",
		Long: `Parse raw documents submitted with "ragpipe submit" into chunks, exactly as ingest
does, as a consumer-group worker: in order per document, with retries, a timeout per
document (--parse-timeout) and the dead-letter queue for documents that fail 3 times
(a DocumentFailed of stage "parse"). Run more with the same --group to scale out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bs, err := blobStore(g, pf.blobs)
			if err != nil {
				return err
			}
			p := &stage.Parse{
				Loader:  ingest.Loader{MaxBytes: pf.maxFileSize, Encoding: pf.encoding},
				Chunker: ingest.Chunker{MaxTokens: pf.maxTokens, OverlapTokens: pf.overlap},
				Blobs:   bs, Timeout: pf.timeout,
			}
			if pf.tokenizer != "" {
				tk, err := ingest.LoadTokenizer(pf.tokenizer)
				if err != nil {
					return err
				}
				p.Chunker.Tokenizer = tk
			}
			if err := p.Loader.Validate(); err != nil {
				return err
			}
			if err := p.Chunker.Validate(); err != nil {
				return err
			}
			return w.run(cmd.Context(), g, stage.ParseWorker(p))
		},
	}
	w.register(cmd, stage.ParseGroup, stage.ParseBatchSize)
	pf.register(cmd)
	return cmd
}
