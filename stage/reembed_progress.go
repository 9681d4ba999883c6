package stage

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Target is where a re-embedding is complete: for each topic and
// partition, the offset its group's committed offset must reach (the end
// offset when the re-embedding started). Partitions with nothing to read
// are left out.
type Target map[string]map[int32]int64

// EndOffsets notes the end offsets of topics: the Target of a
// re-embedding that starts now.
func EndOffsets(ctx context.Context, adm *kadm.Client, topics []string) (Target, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	if err := starts.Error(); err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	t := Target{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset >= o.Offset {
			return // empty, or everything expired
		}
		if t[o.Topic] == nil {
			t[o.Topic] = map[int32]int64{}
		}
		t[o.Topic][o.Partition] = o.Offset
	})
	return t, nil
}

// Behind is one partition whose committed offset has not reached the
// target.
type Behind struct {
	Topic     string
	Partition int32
	Committed int64 // -1 when nothing is committed
	Target    int64
}

// Progress returns the partitions of t the group's committed offsets
// have not reached yet, in topic and partition order: none means the
// re-embedding is complete.
func Progress(ctx context.Context, adm *kadm.Client, group string, t Target) ([]Behind, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // nothing committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the offsets of group %s: %w", group, err)
	}
	if err := committed.Error(); err != nil {
		return nil, fmt.Errorf("fetching the offsets of group %s: %w", group, err)
	}
	var out []Behind
	for topic, parts := range t {
		for p, end := range parts {
			at := int64(-1)
			if o, ok := committed.Lookup(topic, p); ok {
				at = o.At
			}
			if at < end {
				out = append(out, Behind{Topic: topic, Partition: p, Committed: at, Target: end})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
