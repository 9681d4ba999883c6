package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrGroupActive is wrapped by PlanReset's error when the group has members.
var ErrGroupActive = errors.New("group has members")

// ResetTarget says where to reset a group: the first offset at or after
// Time (when not zero), else Offset.
type ResetTarget struct {
	Time   time.Time
	Offset int64
}

// ResetPlan is one partition of an offset reset.
type ResetPlan struct {
	Partition int32 `json:"partition"`
	// Current is the committed offset, -1 when there is none.
	Current int64 `json:"current"`
	New     int64 `json:"new"`
}

// PlanReset returns the new committed offset of each partition of topic
// for group. It refuses (ErrGroupActive) while the group has members: a
// running member would overwrite the reset with its next commit. Offsets
// are clamped to each partition's log start and end.
func PlanReset(ctx context.Context, adm *kadm.Client, group, topic string, to ResetTarget) ([]ResetPlan, error) {
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describing group %s: %w", group, err)
	}
	if d, ok := dg[group]; ok {
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			d.Err = nil // a new group (the embedded broker says so; Kafka says Dead)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("describing group %s: %w", group, d.Err)
		}
		if len(d.Members) > 0 {
			var ids []string
			for _, m := range d.Members {
				ids = append(ids, fmt.Sprintf("%s (%s)", m.ClientID, m.ClientHost))
			}
			return nil, fmt.Errorf("%w: stop its %d member(s) first: %s", ErrGroupActive, len(d.Members), strings.Join(ids, ", "))
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	var after kadm.ListedOffsets
	if !to.Time.IsZero() {
		after, err = adm.ListOffsetsAfterMilli(ctx, to.Time.UnixMilli(), topic)
		if err == nil {
			err = after.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("listing offsets of %s after %s: %w", topic, to.Time.Format(time.RFC3339), err)
		}
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // no commits yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	var plan []ResetPlan
	ends.Each(func(e kadm.ListedOffset) {
		p := ResetPlan{Partition: e.Partition, Current: -1, New: to.Offset}
		if c, ok := committed.Lookup(topic, e.Partition); ok && c.Err == nil && c.At >= 0 {
			p.Current = c.At
		}
		if !to.Time.IsZero() {
			p.New = e.Offset // no record after the time: the end
			if a, ok := after.Lookup(topic, e.Partition); ok && a.Offset >= 0 {
				p.New = a.Offset
			}
		}
		start := int64(0)
		if s, ok := starts.Lookup(topic, e.Partition); ok {
			start = s.Offset
		}
		p.New = min(max(p.New, start), e.Offset)
		plan = append(plan, p)
	})
	sort.Slice(plan, func(i, j int) bool { return plan[i].Partition < plan[j].Partition })
	return plan, nil
}

// Reset commits the plan's offsets for group.
func Reset(ctx context.Context, adm *kadm.Client, group, topic string, plan []ResetPlan) error {
	os := kadm.Offsets{}
	for _, p := range plan {
		os.Add(kadm.Offset{Topic: topic, Partition: p.Partition, At: p.New, LeaderEpoch: -1})
	}
	res, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("committing offsets of group %s: %w", group, err)
	}
	return nil
}
