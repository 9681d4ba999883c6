package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/stage"
)

// publishDeletes publishes one DocumentDeleted per document and waits for
// the acknowledgements.
func publishDeletes(ctx context.Context, cl *kgo.Client, tenant, reason string, docs []stage.Gone) error {
	now := timestamppb.Now()
	recs := make([]*kgo.Record, 0, len(docs))
	for _, d := range docs {
		rec, err := event.NewRecord(event.TopicDeleted, event.Key(tenant, d.DocID), &ragpipev1.DocumentDeleted{
			TenantId: tenant, DocId: d.DocID, DocVersion: d.Version, Reason: reason, DeletedAt: now,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", d.DocID, err)
		}
		recs = append(recs, rec)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("publishing on %s: %w", event.TopicDeleted, err)
	}
	return nil
}

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
			docs := make([]stage.Gone, len(args))
			for i, doc := range args {
				docs[i] = stage.Gone{DocID: doc, Version: version}
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
			if err := publishDeletes(ctx, cl, tenant, "delete", docs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleting %d document(s) of tenant %s (versions up to %d)\n", len(docs), tenant, version)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "default", "tenant the documents belong to")
	cmd.Flags().Int64Var(&version, "version", 0, "delete versions up to and including this one (default: now, in Unix milliseconds)")
	return cmd
}
