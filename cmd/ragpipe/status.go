package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragpipe/ragpipe/ops"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		o           ops.Options
		asJSON      bool
		watch       time.Duration
		deleteStale bool
	)
	cmd := &cobra.Command{
		Use:   "status [--json] [--watch DURATION]",
		Short: "Groups, lag, hot partitions, the DLQ, broker disks and stale groups at a glance",
		Long: `Samples the cluster twice, --interval apart, and reports for each consumer group on
the pipeline's topics: its members (client id, host, instance id) and their partitions,
per-partition committed offset, end offset and lag, the lag trend and the estimated time
to drain; hot partitions (arrival rate ≥ --hot-factor × the topic's median, or, when
nothing arrives, records ≥ --hot-factor × the median); the DLQ depth per stage and the
latest DocumentFailed; broker log-dir usage (warning above --disk-warn); and stale
groups (no members, commits older than retention or below the log start) with the
command that deletes them (--delete-stale does it).

Exit status: 0 healthy, 3 something needs attention (listed under ATTENTION), 1 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, adm, err := g.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			opts, err := g.kafka().Opts()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for {
				rep, err := ops.Collect(cmd.Context(), adm, opts, o)
				if err != nil {
					if watch > 0 && cmd.Context().Err() != nil {
						return nil
					}
					return err
				}
				if deleteStale && len(rep.Stale) > 0 {
					names, err := ops.DeleteStale(cmd.Context(), adm, rep)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "deleted stale group(s): %s\n", strings.Join(names, ", "))
				}
				if asJSON {
					if err := writeJSON(w, rep); err != nil {
						return err
					}
				} else {
					if watch > 0 {
						fmt.Fprint(w, "\033[H\033[2J")
					}
					printStatus(w, rep)
				}
				if watch <= 0 {
					if len(rep.NeedsAttention) > 0 {
						return &exitError{code: exitAttention}
					}
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	fl.DurationVar(&watch, "watch", 0, "refresh every DURATION until interrupted (0: once)")
	fl.DurationVar(&o.Interval, "interval", ops.DefaultInterval, "time between the two samples that give rates and trends")
	fl.Float64Var(&o.HotFactor, "hot-factor", ops.DefaultHotFactor, "flag partitions at this many times their topic's median")
	fl.Float64Var(&o.DiskWarn, "disk-warn", ops.DefaultDiskWarn, "flag broker log dirs used above this ratio")
	fl.IntVar(&o.Recent, "recent", ops.DefaultRecent, "recent DocumentFailed records to show")
	fl.BoolVar(&deleteStale, "delete-stale", false, "delete the stale groups found")
	return cmd
}

func printStatus(w io.Writer, rep ops.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "ragpipe status at %s (rates over %s)\n\n", rep.Time.UTC().Format(time.RFC3339), rep.Interval.Round(time.Millisecond))
	if len(rep.Groups) == 0 {
		fmt.Fprintln(w, "no consumer groups on the pipeline topics")
	}
	for _, gr := range rep.Groups {
		drain := "-"
		switch {
		case gr.DrainSeconds == 0:
			drain = "drained"
		case gr.DrainSeconds > 0:
			drain = (time.Duration(gr.DrainSeconds) * time.Second).String()
		case gr.Lag > 0:
			drain = "not draining"
		}
		fmt.Fprintf(w, "GROUP %s  state %s  members %d  lag %d (%s, was %d)  consume %.1f/s  arrive %.1f/s  drain %s\n",
			gr.Name, gr.State, len(gr.Members), gr.Lag, gr.Trend, gr.LagBefore, gr.ConsumeRate, gr.ArrivalRate, drain)
		for _, m := range gr.Members {
			inst := ""
			if m.InstanceID != "" {
				inst = "  instance " + m.InstanceID
			}
			var parts []string
			for t, ps := range m.Assigned {
				parts = append(parts, fmt.Sprintf("%s%v", t, ps))
			}
			fmt.Fprintf(w, "  member %s  host %s%s  %s\n", m.ClientID, m.Host, inst, strings.Join(parts, " "))
		}
		fmt.Fprintln(tw, "  TOPIC\tPARTITION\tMEMBER\tCOMMITTED\tEND\tLAG\tRATE/s")
		for _, p := range gr.Partitions {
			committed := "-"
			if p.Committed >= 0 {
				committed = fmt.Sprint(p.Committed)
			}
			member := p.Member
			if member == "" {
				member = "-"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%d\t%d\t%.1f\n", p.Topic, p.Partition, member, committed, p.End, p.Lag, p.Rate)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "DLQ %d dead letter(s)", rep.DLQ.Total)
	for st, n := range rep.DLQ.ByStage {
		fmt.Fprintf(w, "  %s %d", st, n)
	}
	fmt.Fprintln(w)
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "  failed %s  %s/%s v%d  stage %s  class %s  %s\n", f.Time.UTC().Format(time.RFC3339), f.Tenant, f.Doc, f.Version, f.Stage, f.Class, snippet(f.Message, 100))
	}
	if len(rep.Hot) > 0 {
		fmt.Fprintln(w, "HOT PARTITIONS")
		for _, h := range rep.Hot {
			fmt.Fprintf(w, "  %s[%d]: %s\n", h.Topic, h.Partition, h.Reason)
		}
	}
	fmt.Fprintln(w, "LOG DIRS")
	for _, d := range rep.LogDirs {
		usage := "volume size not reported"
		if d.UsedRatio >= 0 {
			usage = fmt.Sprintf("%.1f%% of %s used, %s usable", 100*d.UsedRatio, bytesHuman(d.TotalBytes), bytesHuman(d.UsableBytes))
		}
		fmt.Fprintf(w, "  broker %d %s: data %s, %s\n", d.Broker, d.Dir, bytesHuman(d.DataBytes), usage)
	}
	if len(rep.Unsupported) > 0 {
		fmt.Fprintln(w, "NOT AVAILABLE")
		for _, u := range rep.Unsupported {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if len(rep.Stale) > 0 {
		fmt.Fprintln(w, "STALE GROUPS")
		for _, s := range rep.Stale {
			fmt.Fprintf(w, "  %s: %s\n    delete: %s\n", s.Group, s.Reason, s.Command)
		}
	}
	if len(rep.NeedsAttention) == 0 {
		fmt.Fprintln(w, "OK: nothing needs attention")
		return
	}
	fmt.Fprintln(w, "ATTENTION")
	for _, a := range rep.NeedsAttention {
		fmt.Fprintf(w, "  - %s\n", a)
	}
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
