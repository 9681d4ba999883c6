package dlq

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// PurgePlan is one partition of a purge: records before Before are deleted.
type PurgePlan struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
	Before    int64 `json:"before"`
}

// Records is the number of records the plan deletes.
func (p PurgePlan) Records() int64 { return max(0, p.Before-p.Start) }

// PlanPurge returns, for each partition of topic (or only partition when
// it is not negative), the offset before which to delete: before, capped
// at the end offset; before < 0 means the end offset (everything).
func PlanPurge(ctx context.Context, adm *kadm.Client, topic string, partition int32, before int64) ([]PurgePlan, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: listing offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: listing offsets of %s: %w", topic, err)
	}
	var plan []PurgePlan
	ends.Each(func(o kadm.ListedOffset) {
		if partition >= 0 && o.Partition != partition {
			return
		}
		p := PurgePlan{Partition: o.Partition, End: o.Offset, Before: o.Offset}
		if s, ok := starts.Lookup(topic, o.Partition); ok {
			p.Start = s.Offset
		}
		if before >= 0 && before < p.Before {
			p.Before = before
		}
		if p.Records() > 0 {
			plan = append(plan, p)
		}
	})
	sort.Slice(plan, func(i, j int) bool { return plan[i].Partition < plan[j].Partition })
	return plan, nil
}

// Purge deletes the records of the plan (DeleteRecords).
func Purge(ctx context.Context, adm *kadm.Client, topic string, plan []PurgePlan) error {
	if len(plan) == 0 {
		return nil
	}
	os := kadm.Offsets{}
	for _, p := range plan {
		os.Add(kadm.Offset{Topic: topic, Partition: p.Partition, At: p.Before, LeaderEpoch: -1})
	}
	res, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		return fmt.Errorf("dlq: deleting records: %w", err)
	}
	if err := res.Error(); err != nil {
		return fmt.Errorf("dlq: deleting records: %w", err)
	}
	return nil
}
