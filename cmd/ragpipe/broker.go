package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/broker"
)

func newBrokerCmd(g *globals) *cobra.Command {
	var (
		port int
		sync bool
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker (local development, no Java needed)",
		Long: `Runs an in-process Kafka-protocol broker on 127.0.0.1 that keeps its topics, records
and committed offsets in --data, so they survive a restart. It is for local development
and demos, not production: it has one node and no replication.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --data names the broker's folder; by default it is DATA/broker.
			dir := filepath.Join(g.data, "broker")
			if cmd.Flags().Changed("data") {
				dir = g.data
			}
			b, err := broker.StartEmbedded(broker.EmbeddedConfig{DataDir: dir, Port: port, SyncWrites: sync})
			if err != nil {
				return err
			}
			defer b.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "ragpipe broker listening on %s (data in %s)\n", b.Addrs()[0], dir)
			fmt.Fprintf(cmd.OutOrStdout(), "next: ragpipe topics apply --brokers %s --replication-factor 1\n", b.Addrs()[0])
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.OutOrStdout(), "ragpipe broker stopping")
			return nil
		},
	}
	cmd.Flags().IntVar(&port, "port", 9092, "port on 127.0.0.1 (0 picks a free one)")
	cmd.Flags().BoolVar(&sync, "sync-writes", false, "fsync every produced batch")
	return cmd
}
