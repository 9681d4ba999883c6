package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var (
		tenant  string
		version int64
	)
	cmd := &cobra.Command{
		Use:   "delete [flags] DOC_ID...",
		Short: "Delete documents from the index: a DocumentDeleted per document on documents.deleted",
		Long: `Publishes one DocumentDeleted per document on documents.deleted, keyed like the
document's chunks. The index stage removes every version of the document up to the
deleted one (default: now, in Unix milliseconds, which covers every version ingested
so far, versions being modification times) and ignores chunks of those versions that
arrive later, so a delete racing the document's last chunks leaves nothing behind. A
version written after the delete (the file edited again, then ingested) is indexed.
DOC_ID is the document id as search prints it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if version == 0 {
				version = time.Now().UnixMilli()
			}
			if version < 0 {
				return fmt.Errorf("--version must not be negative, got %d", version)
			}
			now := timestamppb.Now()
			recs := make([]*kgo.Record, 0, len(args))
			for _, doc := range args {
				rec, err := event.NewRecord(event.TopicDeleted, event.Key(tenant, doc), &ragpipev1.DocumentDeleted{
					TenantId: tenant, DocId: doc, DocVersion: version, Reason: "delete", DeletedAt: now,
				})
				if err != nil {
					return fmt.Errorf("%s: %w", doc, err)
				}
				recs = append(recs, rec)
			}
			kc := g.kafka()
			if err := broker.Check(ctx, kc, 10*time.Second); err != nil {
				return err
			}
			cl, err := producer(kc)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return fmt.Errorf("publishing on %s: %w", event.TopicDeleted, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleting %d document(s) of tenant %s (versions up to %d)\n", len(recs), tenant, version)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "default", "tenant the documents belong to")
	cmd.Flags().Int64Var(&version, "version", 0, "delete versions up to and including this one (default: now, in Unix milliseconds)")
	return cmd
}
