package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/dlq"
	"github.com/ragpipe/ragpipe/event"
)

// Defaults of Options.
const (
	DefaultInterval  = time.Second
	DefaultHotFactor = 10
	DefaultDiskWarn  = 0.85
	DefaultRecent    = 5
)

// Options configure Collect.
type Options struct {
	// Topics are the topics inspected (default event.Topics()).
	Topics []string
	// Interval between the two samples (default DefaultInterval).
	Interval time.Duration
	// HotFactor flags a partition at this many times its topic's median
	// (default DefaultHotFactor).
	HotFactor float64
	// DiskWarn flags a log dir used above this ratio (default
	// DefaultDiskWarn).
	DiskWarn float64
	// Recent is how many recent DocumentFailed to show (default
	// DefaultRecent).
	Recent int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if len(o.Topics) == 0 {
		o.Topics = event.Topics()
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.HotFactor <= 0 {
		o.HotFactor = DefaultHotFactor
	}
	if o.DiskWarn <= 0 {
		o.DiskWarn = DefaultDiskWarn
	}
	if o.Recent <= 0 {
		o.Recent = DefaultRecent
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// sample is the state of the groups and topics at one time.
type sample struct {
	at     time.Time
	lags   kadm.DescribedGroupLags
	starts kadm.ListedOffsets
	ends   kadm.ListedOffsets
}

func takeSample(ctx context.Context, adm *kadm.Client, topics []string, now func() time.Time) (sample, error) {
	s := sample{at: now()}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return s, fmt.Errorf("listing groups: %w", err)
	}
	if groups := listed.Groups(); len(groups) > 0 {
		if s.lags, err = adm.Lag(ctx, groups...); err != nil {
			return s, fmt.Errorf("group lag: %w", err)
		}
	}
	if s.starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return s, fmt.Errorf("listing start offsets: %w", err)
	}
	if s.ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		return s, fmt.Errorf("listing end offsets: %w", err)
	}
	return s, nil
}

// Collect samples the cluster twice, Interval apart, and reports. opts
// connect a reading client (for the dead-letter and failure topics).
func Collect(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, o Options) (Report, error) {
	o.defaults()
	first, err := takeSample(ctx, adm, o.Topics, o.Now)
	if err != nil {
		return Report{}, err
	}
	select {
	case <-ctx.Done():
		return Report{}, ctx.Err()
	case <-time.After(o.Interval):
	}
	second, err := takeSample(ctx, adm, o.Topics, o.Now)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Time: second.at, Interval: second.at.Sub(first.at)}
	dt := rep.Interval.Seconds()
	rep.Groups = groups(first, second, o.Topics, dt)
	rep.Hot = hot(first, second, o.HotFactor, dt)
	if err := stale(ctx, adm, &rep, second, o); err != nil {
		return rep, err
	}
	if err := dlqDepth(ctx, adm, opts, &rep, o.Recent); errors.Is(err, kerr.UnknownTopicOrPartition) {
		rep.Unsupported = append(rep.Unsupported, "dead letters: "+err.Error()+" (run `ragpipe topics apply`)")
	} else if err != nil {
		return rep, err
	}
	logDirs(ctx, adm, &rep)
	attention(&rep, o.DiskWarn)
	return rep, nil
}

func groups(first, second sample, topics []string, dt float64) []Group {
	var out []Group
	for name, gl := range second.lags {
		if gl.Error() != nil {
			continue
		}
		g := Group{Name: name, State: gl.State, DrainSeconds: -1}
		reads := false
		for _, t := range topics {
			for p, ml := range gl.Lag[t] {
				reads = true
				part := Partition{Topic: t, Partition: p, Committed: -1, Start: ml.Start.Offset, End: ml.End.Offset, Lag: max(ml.Lag, 0)}
				if ml.Commit.At >= 0 {
					part.Committed = ml.Commit.At
				}
				if ml.Member != nil {
					part.Member = ml.Member.ClientID
				}
				before, ok := first.lags[name].Lag.Lookup(t, p)
				if ok {
					g.LagBefore += max(before.Lag, 0)
					if before.Commit.At >= 0 && part.Committed >= 0 && dt > 0 {
						part.Rate = float64(part.Committed-before.Commit.At) / dt
					}
					if dt > 0 {
						g.ArrivalRate += float64(ml.End.Offset-before.End.Offset) / dt
					}
				} else {
					g.LagBefore += part.Lag
				}
				g.ConsumeRate += part.Rate
				g.Lag += part.Lag
				g.Partitions = append(g.Partitions, part)
			}
		}
		if !reads {
			continue
		}
		for _, m := range gl.Members {
			mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
			if m.InstanceID != nil {
				mem.InstanceID = *m.InstanceID
			}
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					mem.Assigned[t.Topic] = append(mem.Assigned[t.Topic], t.Partitions...)
				}
			}
			g.Members = append(g.Members, mem)
		}
		switch {
		case g.Lag > g.LagBefore:
			g.Trend = "growing"
		case g.Lag < g.LagBefore:
			g.Trend = "shrinking"
		default:
			g.Trend = "steady"
		}
		switch net := g.ConsumeRate - g.ArrivalRate; {
		case g.Lag == 0:
			g.DrainSeconds = 0
		case net > 0:
			g.DrainSeconds = float64(g.Lag) / net
		}
		sort.Slice(g.Partitions, func(i, j int) bool {
			a, b := g.Partitions[i], g.Partitions[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func median[T int64 | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// hot finds partitions whose arrival rate (or, when nothing arrived, whose
// record count) is at least factor times the topic's median. A zero median
// rate counts as one record per interval, so that a single busy partition
// among idle ones is flagged only when it is really busy.
func hot(first, second sample, factor, dt float64) []Hot {
	var out []Hot
	byTopic := map[string][]kadm.ListedOffset{}
	second.ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			byTopic[o.Topic] = append(byTopic[o.Topic], o)
		}
	})
	for t, parts := range byTopic {
		if len(parts) < 2 || dt <= 0 {
			continue
		}
		rates := make([]float64, len(parts))
		counts := make([]int64, len(parts))
		anyArrival := false
		for i, o := range parts {
			if b, ok := first.ends.Lookup(t, o.Partition); ok {
				rates[i] = float64(o.Offset-b.Offset) / dt
			}
			anyArrival = anyArrival || rates[i] > 0
			start := int64(0)
			if s, ok := second.starts.Lookup(t, o.Partition); ok {
				start = s.Offset
			}
			counts[i] = o.Offset - start
		}
		if anyArrival {
			med := median(rates)
			floor := max(med, 1/dt)
			for i, o := range parts {
				if rates[i] >= factor*floor {
					out = append(out, Hot{Topic: t, Partition: o.Partition, Rate: rates[i], Median: med, Records: counts[i], MedianRec: median(counts),
						Reason: fmt.Sprintf("arrival rate %.1f/s is ≥ %.0f× the median %.1f/s", rates[i], factor, med)})
				}
			}
			continue
		}
		med := median(counts)
		if med <= 0 {
			continue
		}
		for i, o := range parts {
			if float64(counts[i]) >= factor*float64(med) {
				out = append(out, Hot{Topic: t, Partition: o.Partition, Records: counts[i], MedianRec: med,
					Reason: fmt.Sprintf("%d records is ≥ %.0f× the median %d (no arrivals during the interval)", counts[i], factor, med)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out
}

// stale finds groups with no members whose positions are below the log
// start, or older than the topics' retention. The OffsetFetch API does not
// give commit times, so a commit's age is that of the newest record it
// covers: a commit is older than retention when no record before it is
// younger than retention.ms.
func stale(ctx context.Context, adm *kadm.Client, rep *Report, s sample, o Options) error {
	retention := map[string]int64{}
	rcs, err := adm.DescribeTopicConfigs(ctx, o.Topics...)
	if err != nil {
		rep.Unsupported = append(rep.Unsupported, "topic configs (retention.ms): "+err.Error())
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" && c.Value != nil {
				if v, err := strconv.ParseInt(*c.Value, 10, 64); err == nil && v > 0 {
					retention[rc.Name] = v
				}
			}
		}
	}
	now := o.Now()
	after := map[string]kadm.ListedOffsets{}
	for _, g := range rep.Groups {
		if len(g.Members) > 0 {
			continue
		}
		below, old, commits := "", true, 0
		for _, p := range g.Partitions {
			if p.Committed < 0 {
				continue
			}
			commits++
			if p.Committed < p.Start && below == "" {
				below = fmt.Sprintf("committed offset %d on %s[%d] is below the log start %d", p.Committed, p.Topic, p.Partition, p.Start)
			}
			ms, ok := retention[p.Topic]
			if !ok {
				old = false
				continue
			}
			lo, ok := after[p.Topic]
			if !ok {
				lo, _ = adm.ListOffsetsAfterMilli(ctx, now.UnixMilli()-ms, p.Topic)
				after[p.Topic] = lo
			}
			// The first record younger than retention; at or after the
			// commit means the commit covers only older records.
			if first, ok := lo.Lookup(p.Topic, p.Partition); !ok || first.Err != nil || first.Offset < p.Committed || p.Committed == 0 {
				old = false
			}
		}
		reason := below
		if reason == "" && old && commits > 0 {
			reason = "no members, and every commit covers only records older than the topic's retention.ms"
		}
		if reason == "" {
			continue
		}
		rep.Stale = append(rep.Stale, Stale{Group: g.Name, Reason: reason,
			Command: fmt.Sprintf("ragpipe status --delete-stale   # or: kafka-consumer-groups.sh --bootstrap-server BROKER --delete --group %s", g.Name)})
	}
	return nil
}

// dlqDepth counts documents.dlq by stage and reads the recent
// DocumentFailed records.
func dlqDepth(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, rep *Report, recent int) error {
	rep.DLQ.ByStage = map[string]int64{}
	err := dlq.Read(ctx, opts, event.TopicDLQ, func(r *kgo.Record) error {
		stage, _ := event.Header(r, event.HeaderDLQStage)
		if stage == "" {
			stage = "unknown"
		}
		rep.DLQ.ByStage[stage]++
		rep.DLQ.Total++
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", event.TopicDLQ, err)
	}
	// The last `recent` records of each partition hold the newest overall.
	from, err := lastOffsets(ctx, adm, event.TopicFailed, int64(recent))
	if err != nil {
		return err
	}
	var fs []Failed
	err = dlq.ReadFrom(ctx, opts, event.TopicFailed, from, func(r *kgo.Record) error {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			return nil
		}
		fs = append(fs, Failed{Time: r.Timestamp, Tenant: m.GetTenantId(), Doc: m.GetDocId(), Version: m.GetDocVersion(),
			Stage: m.GetStage(), Class: m.GetErrorClass(), Message: m.GetErrorMessage(), Attempts: m.GetAttempts()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", event.TopicFailed, err)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Time.After(fs[j].Time) })
	if len(fs) > recent {
		fs = fs[:recent]
	}
	rep.Failed = fs
	return nil
}

func lastOffsets(ctx context.Context, adm *kadm.Client, topic string, n int64) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	from := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = o.Offset - n })
	return from, nil
}

func logDirs(ctx context.Context, adm *kadm.Client, rep *Report) {
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		rep.Unsupported = append(rep.Unsupported, "log dirs: "+err.Error())
		return
	}
	for b, dirs := range all {
		for _, d := range dirs {
			ld := LogDir{Broker: b, Dir: d.Dir, DataBytes: d.Size(), TotalBytes: d.TotalBytes, UsableBytes: d.UsableBytes, UsedRatio: -1}
			if d.Err != nil {
				ld.Err = d.Err.Error()
			}
			if d.TotalBytes > 0 && d.UsableBytes >= 0 {
				ld.UsedRatio = 1 - float64(d.UsableBytes)/float64(d.TotalBytes)
			}
			rep.LogDirs = append(rep.LogDirs, ld)
		}
	}
	sort.Slice(rep.LogDirs, func(i, j int) bool {
		a, b := rep.LogDirs[i], rep.LogDirs[j]
		return a.Broker < b.Broker || a.Broker == b.Broker && a.Dir < b.Dir
	})
}

func attention(rep *Report, diskWarn float64) {
	add := func(format string, args ...any) {
		rep.NeedsAttention = append(rep.NeedsAttention, fmt.Sprintf(format, args...))
	}
	for _, h := range rep.Hot {
		add("hot partition %s[%d]: %s", h.Topic, h.Partition, h.Reason)
	}
	if rep.DLQ.Total > 0 {
		add("%d dead letter(s) in %s: review with `ragpipe dlq list`", rep.DLQ.Total, event.TopicDLQ)
	}
	for _, d := range rep.LogDirs {
		if d.UsedRatio >= diskWarn {
			add("broker %d log dir %s is %.0f%% full", d.Broker, d.Dir, 100*d.UsedRatio)
		}
		if d.Err != "" {
			add("broker %d log dir %s: %s", d.Broker, d.Dir, d.Err)
		}
	}
	for _, s := range rep.Stale {
		add("stale group %s: %s", s.Group, s.Reason)
	}
	for _, g := range rep.Groups {
		if g.Trend == "growing" && len(g.Members) > 0 {
			add("lag of group %s is growing (%d → %d)", g.Name, g.LagBefore, g.Lag)
		}
	}
}

// DeleteStale deletes the stale groups of a report (they have no members).
func DeleteStale(ctx context.Context, adm *kadm.Client, rep Report) ([]string, error) {
	var names []string
	for _, s := range rep.Stale {
		names = append(names, s.Group)
	}
	if len(names) == 0 {
		return nil, nil
	}
	res, err := adm.DeleteGroups(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("deleting groups: %w", err)
	}
	if err := res.Error(); err != nil {
		return names, fmt.Errorf("deleting groups: %w", err)
	}
	return names, nil
}
