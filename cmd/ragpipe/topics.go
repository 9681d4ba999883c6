package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/topic"
)

func newTopicsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "topics", Short: "Manage the pipeline's topics"}
	var (
		o          topic.Options
		allowDrift bool
	)
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create the pipeline's topics, or check them and report drift",
		Long: `Creates documents.raw, documents.parsed (with documents.parsed.high and
documents.parsed.low for ingest --priority), chunks.embedded, vectors.indexed,
documents.failed, documents.dlq, documents.deleted and documents.catalog with
production defaults (12 partitions, replication factor 3, retention.ms 604800000,
cleanup.policy delete, min.insync.replicas 2; documents.raw also max.message.bytes
5242880, for raw documents of up to 4 MiB inline; documents.catalog, the document
hashes that ingest reads back, cleanup.policy compact without retention by time,
segment.ms 3600000, min.cleanable.dirty.ratio 0.1, delete.retention.ms 86400000),
or checks existing ones. Existing topics are never
changed; differences are reported as drift, and apply then exits with status 3
unless --allow-drift is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			specs, err := topic.Pipeline(o)
			if err != nil {
				return err
			}
			kc := g.kafka()
			if err := broker.Check(cmd.Context(), kc, 10*time.Second); err != nil {
				return err
			}
			opts, err := kc.Opts()
			if err != nil {
				return err
			}
			cl, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(250*time.Millisecond))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := topic.Apply(cmd.Context(), kadm.NewClient(cl), specs)
			if err != nil {
				return err
			}
			drift := false
			for _, r := range res {
				fmt.Fprintf(cmd.OutOrStdout(), "%-18s %s", r.Topic, r.Action)
				if len(r.Drift) > 0 {
					drift = true
					fmt.Fprintf(cmd.OutOrStdout(), ": %s", strings.Join(r.Drift, "; "))
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if drift {
				fmt.Fprintln(cmd.OutOrStdout(), "drift found: existing topics were left as they are")
				if !allowDrift {
					return &exitError{code: exitDrift, msg: "topics differ from the spec (exit status 3; --allow-drift accepts it)"}
				}
			}
			return nil
		},
	}
	apply.Flags().Int32Var(&o.Partitions, "partitions", 12, "partitions per topic")
	apply.Flags().Int16Var(&o.ReplicationFactor, "replication-factor", 3, "replicas per partition (at most the number of brokers)")
	apply.Flags().Int64Var(&o.RetentionMs, "retention-ms", 604800000, "retention.ms of every topic")
	apply.Flags().BoolVar(&allowDrift, "allow-drift", false, "exit 0 even when existing topics differ from the spec (env RAGPIPE_ALLOW_DRIFT)")
	cmd.AddCommand(apply)
	return cmd
}
