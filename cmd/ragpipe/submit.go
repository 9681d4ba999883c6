package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/ingest"
	"github.com/ragpipe/ragpipe/stage"
)

func newSubmitCmd(g *globals) *cobra.Command {
	var (
		tenant, blobs, partitionBy, priority string
		maxFileSize                          int64
	)
	cmd := &cobra.Command{
		Use:   "submit [--tenant T] PATH...",
		Short: "Publish documents unparsed: files → documents.raw, for ragpipe parse",
		Long: `Publish each file under PATH as one DocumentRaw on documents.raw, for the parse
workers ("ragpipe parse"). Content up to 4 MiB travels in the record; a larger file is
put in the blob store (--blobs, a directory or file:// URI every parse worker can read)
and the record carries its reference. Document ids and versions are ingest's: the path
relative to PATH, and the modification time. Exits 1 if any file could not be
submitted, after submitting the others.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			prio, err := event.ParsePriority(priority)
			if err != nil {
				return fmt.Errorf("--priority: %w", err)
			}
			kc := g.kafka()
			if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
				return err
			}
			bs, err := blobStore(g, blobs)
			if err != nil {
				return err
			}
			// Batches as large as documents.raw's max.message.bytes, so that
			// a document of up to 4 MiB travels inline; this client
			// produces to that topic only.
			part, err := event.ParsePartitioning(partitionBy)
			if err != nil {
				return err
			}
			cl, err := producer(kc, kgo.ProducerBatchMaxBytes(event.RawMaxMessageBytes), kgo.RecordPartitioner(part.Partitioner()))
			if err != nil {
				return err
			}
			defer cl.Close()
			s := &stage.Submit{Client: cl, Tenant: tenant, Blobs: bs, MaxBytes: maxFileSize, Stderr: cmd.ErrOrStderr(), Priority: prio}
			sum, err := s.Run(ctx, args)
			fmt.Fprintf(cmd.OutOrStdout(), "submitted %d document(s), %d byte(s), %d in the blob store; %d file(s) failed\n",
				sum.Submitted, sum.Bytes, sum.Blobs, sum.Failed)
			return someFailed(sum.Failed, err)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "default", "tenant the documents belong to (part of the record key)")
	cmd.Flags().StringVar(&partitionBy, "partition-by", string(event.PartitionByDocument), "which part of the key picks the partition: document, or tenant (one tenant's documents share a partition)")
	cmd.Flags().StringVar(&blobs, "blobs", "", "blob store for files over 4 MiB: a directory or file:// URI shared with the parse workers (default DATA/blobs)")
	cmd.Flags().Int64Var(&maxFileSize, "max-file-size", ingest.DefaultMaxBytes, "largest file to submit, in bytes")
	cmd.Flags().StringVar(&priority, "priority", string(event.PriorityNormal), "priority of the documents' chunks: high, normal or low (a ragpipe.priority header; the parse stage writes the chunks to documents.parsed.high, documents.parsed or documents.parsed.low)")
	return cmd
}
