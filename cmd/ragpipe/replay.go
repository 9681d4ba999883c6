package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/dlq"
	"github.com/ragpipe/ragpipe/ops"
)

func newReplayCmd(g *globals) *cobra.Command {
	var (
		group, topic, toTime string
		toOffset             int64
		dryRun, asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "replay --group G --topic T (--to-time TIME | --to-offset N) [--dry-run]",
		Short: "Reset a stopped consumer group's offsets to re-process from a point in time",
		Long: `Moves the committed offsets of GROUP on TOPIC back (or forward): to the first record at
or after --to-time (RFC 3339, or a duration before now such as 2h), or to --to-offset in
every partition (clamped to each partition's start and end). The next worker of the
group re-processes from there: to re-embed with a new model, or to start a new fan-out
consumer from a point in time.

The group must be stopped: the command refuses while it has members (their next commit
would undo the reset). --dry-run prints the plan (partition, current, new) only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if group == "" || topic == "" {
				return &exitError{code: exitUsage, err: errors.New("--group and --topic are required")}
			}
			if (toTime == "") == (toOffset < 0) {
				return &exitError{code: exitUsage, err: errors.New("give one of --to-time or --to-offset")}
			}
			var target ops.ResetTarget
			if toTime != "" {
				t, err := dlq.ParseTime(toTime, time.Now())
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("--to-time: %w", err)}
				}
				target.Time = t
			} else {
				target.Offset = toOffset
			}
			cl, adm, err := g.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			plan, err := ops.PlanReset(cmd.Context(), adm, group, topic, target)
			if err != nil {
				return err
			}
			if !dryRun {
				if err := ops.Reset(cmd.Context(), adm, group, topic, plan); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, struct {
					Group  string          `json:"group"`
					Topic  string          `json:"topic"`
					DryRun bool            `json:"dry_run"`
					Plan   []ops.ResetPlan `json:"partitions"`
				}{group, topic, dryRun, plan})
			}
			fmt.Fprintf(w, "%-9s %12s %12s\n", "PARTITION", "CURRENT", "NEW")
			for _, p := range plan {
				cur := "-"
				if p.Current >= 0 {
					cur = fmt.Sprint(p.Current)
				}
				fmt.Fprintf(w, "%-9d %12s %12d\n", p.Partition, cur, p.New)
			}
			if dryRun {
				fmt.Fprintf(w, "dry run: offsets of group %s on %s not changed\n", group, topic)
			} else {
				fmt.Fprintf(w, "offsets of group %s on %s reset: start its workers to re-process\n", group, topic)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&group, "group", "", "consumer group to reset (must have no members)")
	fl.StringVar(&topic, "topic", "", "topic whose offsets to reset")
	fl.StringVar(&toTime, "to-time", "", "reset to the first record at or after this time (RFC 3339 or a duration like 2h)")
	fl.Int64Var(&toOffset, "to-offset", -1, "reset every partition to this offset")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
