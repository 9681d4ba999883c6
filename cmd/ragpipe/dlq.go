package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/dlq"
	"github.com/ragpipe/ragpipe/event"
)

// dlqFlags are the filters every dlq command shares.
type dlqFlags struct {
	stage, class, tenant, doc string
	since, until              string
	json                      bool
}

func (f *dlqFlags) filter(now time.Time) (dlq.Filter, error) {
	since, err := dlq.ParseTime(f.since, now)
	if err != nil {
		return dlq.Filter{}, &exitError{code: exitUsage, err: fmt.Errorf("--since: %w", err)}
	}
	until, err := dlq.ParseTime(f.until, now)
	if err != nil {
		return dlq.Filter{}, &exitError{code: exitUsage, err: fmt.Errorf("--until: %w", err)}
	}
	return dlq.Filter{Stage: f.stage, Class: f.class, Tenant: f.tenant, Doc: f.doc, Since: since, Until: until}, nil
}

func newDLQCmd(g *globals) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Review, replay and purge the dead-letter queue (documents.dlq)",
		Long: `Every record a stage gave up on is in documents.dlq: the original record, unchanged,
plus ragpipe.dlq.* headers saying where it came from and why it failed. A dead letter is
named PARTITION:OFFSET; a bare OFFSET names that offset in every partition.

Filters (all commands): --stage, --class (error class: record, batch, server, fatal),
--tenant, --doc, --since and --until (RFC 3339, or a duration before now such as 2h).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.stage, "stage", "", "only dead letters of this stage (embed, index)")
	pf.StringVar(&f.class, "class", "", "only this error class (record, batch, server, fatal)")
	pf.StringVar(&f.tenant, "tenant", "", "only this tenant")
	pf.StringVar(&f.doc, "doc", "", "only this document id")
	pf.StringVar(&f.since, "since", "", "only dead letters at or after this time (RFC 3339 or a duration like 2h)")
	pf.StringVar(&f.until, "until", "", "only dead letters before this time (RFC 3339 or a duration like 30m)")
	pf.BoolVar(&f.json, "json", false, "print JSON")
	cmd.AddCommand(newDLQListCmd(g, f), newDLQShowCmd(g, f), newDLQReplayCmd(g, f), newDLQPurgeCmd(g, f))
	return cmd
}

// position is a PARTITION:OFFSET argument; partition -1 means any.
type position struct {
	partition int32
	offset    int64
}

func parsePositions(args []string) ([]position, error) {
	var out []position
	for _, a := range args {
		p, o := "-1", a
		if i := strings.IndexByte(a, ':'); i >= 0 {
			p, o = a[:i], a[i+1:]
		}
		pn, err1 := strconv.ParseInt(p, 10, 32)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if err1 != nil || err2 != nil || on < 0 {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("bad dead letter %q: want PARTITION:OFFSET or OFFSET", a)}
		}
		out = append(out, position{int32(pn), on})
	}
	return out, nil
}

func (p position) match(r *kgo.Record) bool {
	return r.Offset == p.offset && (p.partition < 0 || p.partition == r.Partition)
}

// selectDeadLetters reads documents.dlq and returns the records that pass
// the filter (and name one of positions, when given), in partition and
// offset order, and how many were skipped by the filter.
func selectDeadLetters(cmd *cobra.Command, g *globals, f *dlqFlags, positions []position) ([]*kgo.Record, int, error) {
	filter, err := f.filter(time.Now())
	if err != nil {
		return nil, 0, err
	}
	kc := g.kafka()
	if err := broker.Check(cmd.Context(), kc, 10*time.Second); err != nil {
		return nil, 0, err
	}
	opts, err := kc.Opts()
	if err != nil {
		return nil, 0, err
	}
	var (
		out     []*kgo.Record
		skipped int
	)
	err = dlq.Read(cmd.Context(), opts, event.TopicDLQ, func(r *kgo.Record) error {
		if len(positions) > 0 {
			named := false
			for _, p := range positions {
				named = named || p.match(r)
			}
			if !named {
				return nil
			}
		}
		if !filter.Match(dlq.Parse(r)) {
			skipped++
			return nil
		}
		out = append(out, r)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, skipped, err
}

func newDLQListCmd(g *globals, f *dlqFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "One line per dead letter: position, time, stage, class, tenant/doc, chunk, attempts, message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, _, err := selectDeadLetters(cmd, g, f, nil)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			entries := make([]dlq.Entry, len(recs))
			for i, r := range recs {
				entries[i] = dlq.Parse(r)
			}
			if f.json {
				return writeJSON(w, entries)
			}
			for _, e := range entries {
				fmt.Fprintln(w, e.Line())
			}
			fmt.Fprintf(w, "%d dead letter(s)\n", len(entries))
			return nil
		},
	}
}

func newDLQShowCmd(g *globals, f *dlqFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show PARTITION:OFFSET...",
		Short: "Decode dead letters: the payload and every header",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			positions, err := parsePositions(args)
			if err != nil {
				return err
			}
			recs, _, err := selectDeadLetters(cmd, g, f, positions)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return fmt.Errorf("no dead letter at %s (that passes the filters)", strings.Join(args, " "))
			}
			w := cmd.OutOrStdout()
			if f.json {
				type shown struct {
					dlq.Entry
					Key     string          `json:"key"`
					Headers [][2]string     `json:"headers"`
					Payload json.RawMessage `json:"payload,omitempty"`
					Error   string          `json:"payload_error,omitempty"`
				}
				var out []shown
				for _, r := range recs {
					s := shown{Entry: dlq.Parse(r), Key: string(r.Key)}
					for _, h := range r.Headers {
						s.Headers = append(s.Headers, [2]string{h.Key, string(h.Value)})
					}
					if msg, err := dlq.Payload(r); err == nil {
						s.Payload = json.RawMessage(dlq.PayloadJSON(msg))
					} else {
						s.Error = err.Error()
					}
					out = append(out, s)
				}
				return writeJSON(w, out)
			}
			for i, r := range recs {
				if i > 0 {
					fmt.Fprintln(w)
				}
				showDeadLetter(w, r)
			}
			return nil
		},
	}
}

func showDeadLetter(w io.Writer, r *kgo.Record) {
	fmt.Fprintf(w, "%s[%d]@%d  %s\n", r.Topic, r.Partition, r.Offset, r.Timestamp.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "key: %s\nheaders:\n", r.Key)
	for _, h := range r.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Key, h.Value)
	}
	msg, err := dlq.Payload(r)
	if err != nil {
		fmt.Fprintf(w, "payload (%d bytes) does not decode: %v\n", len(r.Value), err)
		return
	}
	fmt.Fprintf(w, "payload %s:\n%s\n", msg.ProtoReflect().Descriptor().FullName(), dlq.PayloadJSON(msg))
}

func newDLQReplayCmd(g *globals, f *dlqFlags) *cobra.Command {
	var (
		maxReplays   int
		dryRun       bool
		rate         float64
		wholeVersion bool
	)
	cmd := &cobra.Command{
		Use:   "replay [PARTITION:OFFSET...]",
		Short: "Republish dead letters to their original topic, to be processed again",
		Long: `Republishes each selected dead letter (all that pass the filters, or those named) to
the topic it failed on (its ragpipe.dlq.topic header): the original key, value and
headers, without the ragpipe.dlq.* and __connect.errors.* headers, plus
ragpipe.replay.count, ragpipe.replay.id (one id per run) and
ragpipe.replay.original.topic/partition/offset. The replay is a new delivery: the embed
stage and the store process it even though the version failed before.

A dead-lettered chunk made the stage skip its version's later chunks and the index
stage remove its earlier ones, so by default (--whole-version) the version's other
chunks are read back from the original topic and replayed with it, in chunk order.

A dead letter already replayed --max-replays times is refused (loop guard). Fix the
cause first (a server, a model, a poisoned input) or the records come back.
Exit status 3 when some dead letters were refused.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			positions, err := parsePositions(args)
			if err != nil {
				return err
			}
			if rate < 0 || maxReplays < 1 {
				return &exitError{code: exitUsage, err: errors.New("--rate must be ≥ 0 and --max-replays ≥ 1")}
			}
			recs, skipped, err := selectDeadLetters(cmd, g, f, positions)
			if err != nil {
				return err
			}
			cl, err := producer(g.kafka())
			if err != nil {
				return err
			}
			defer cl.Close()
			stderr := cmd.ErrOrStderr()
			ro := dlq.ReplayOptions{
				MaxReplays: maxReplays, DryRun: dryRun, Rate: rate,
				OnRefused: func(dl *kgo.Record, err error) {
					fmt.Fprintf(stderr, "ragpipe dlq replay: %d:%d: %v\n", dl.Partition, dl.Offset, err)
				},
			}
			if wholeVersion {
				opts, err := g.kafka().Opts()
				if err != nil {
					return err
				}
				ro.Siblings = func(ctx context.Context, dl *kgo.Record) ([]*kgo.Record, error) {
					return dlq.Siblings(ctx, opts, dl)
				}
			}
			rep, err := dlq.Replay(cmd.Context(), cl, recs, ro)
			w := cmd.OutOrStdout()
			if f.json {
				if jerr := writeJSON(w, struct {
					dlq.ReplayReport
					Skipped int `json:"skipped_by_filter"`
				}{rep, skipped}); jerr != nil {
					return jerr
				}
			} else {
				verb := "replayed"
				if dryRun {
					verb = "would replay"
				}
				fmt.Fprintf(w, "replay %s: %s %d, refused %d (--max-replays %d), skipped by filter %d; with them %d other chunk(s) of their versions\n",
					rep.ID, verb, rep.Replayed, rep.Refused, maxReplays, skipped, rep.Siblings)
			}
			if err != nil {
				return err
			}
			if rep.Refused > 0 {
				return &exitError{code: exitAttention}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&maxReplays, "max-replays", dlq.DefaultMaxReplays, "refuse dead letters already replayed this many times (loop guard)")
	fl.BoolVar(&dryRun, "dry-run", false, "report what would be replayed, produce nothing")
	fl.Float64Var(&rate, "rate", 0, "most records replayed per second (0: no limit)")
	fl.BoolVar(&wholeVersion, "whole-version", true, "also replay the other chunks of each dead letter's document version (from its original topic), so the version is processed whole")
	return cmd
}

func newDLQPurgeCmd(g *globals, f *dlqFlags) *cobra.Command {
	var (
		toOffset  int64
		all, yes  bool
		partition int32
	)
	cmd := &cobra.Command{
		Use:   "purge (--to-offset N | --all) [--partition P] [--yes]",
		Short: "Delete dead letters before an offset (DeleteRecords)",
		Long: `Deletes the records of documents.dlq before --to-offset in every partition (or only
--partition), or all of them with --all. Asks for confirmation on a terminal; otherwise
--yes is required. The filters do not apply: Kafka deletes a prefix of each partition.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all == (toOffset >= 0) {
				return &exitError{code: exitUsage, err: errors.New("give one of --to-offset N or --all")}
			}
			if f.stage+f.class+f.tenant+f.doc+f.since+f.until != "" {
				return &exitError{code: exitUsage, err: errors.New("purge deletes a prefix of each partition: filters do not apply")}
			}
			cl, adm, err := g.admin(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			before := toOffset
			if all {
				before = -1
			}
			plan, err := dlq.PlanPurge(cmd.Context(), adm, event.TopicDLQ, partition, before)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var n int64
			for _, p := range plan {
				n += p.Records()
				fmt.Fprintf(w, "partition %d: delete offsets %d..%d (%d records)\n", p.Partition, p.Start, p.Before-1, p.Records())
			}
			if n == 0 {
				fmt.Fprintln(w, "nothing to purge")
				return nil
			}
			if !yes {
				ok, err := confirm(cmd, fmt.Sprintf("delete %d dead letter(s)? [y/N] ", n))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(w, "nothing deleted")
					return nil
				}
			}
			if err := dlq.Purge(cmd.Context(), adm, event.TopicDLQ, plan); err != nil {
				return err
			}
			fmt.Fprintf(w, "deleted %d dead letter(s)\n", n)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&toOffset, "to-offset", -1, "delete records before this offset")
	fl.BoolVar(&all, "all", false, "delete every dead letter")
	fl.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	fl.Int32Var(&partition, "partition", -1, "only this partition")
	return cmd
}

// confirm asks on a terminal; without one it refuses, asking for --yes.
func confirm(cmd *cobra.Command, question string) (bool, error) {
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return false, &exitError{code: exitUsage, err: errors.New("not a terminal: pass --yes to confirm")}
	}
	fmt.Fprint(cmd.ErrOrStderr(), question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
