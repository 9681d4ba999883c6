package stage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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
	// A topic the cluster does not have (provisioned before the priority
	// topics, say) holds nothing to replay.
	if err := listedError(ends); err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	if err := listedError(starts); err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	t := Target{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
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

// markerSlack is how far below its target a committed offset may stand
// before Progress looks for transaction markers in the gap.
const markerSlack = 16

// Progress returns the partitions of t the group's committed offsets
// have not reached yet, in topic and partition order: none means the
// re-embedding is complete. A committed offset stops after the last data
// record, so a partition ending in transaction markers (a transactional
// producer, such as `ragpipe parse --exactly-once`) counts as reached when
// only markers lie between it and the target; opts (the cluster's client
// options) let Progress read that gap.
func Progress(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, group string, t Target) ([]Behind, error) {
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
			if at >= end {
				continue
			}
			if end-max(at, 0) <= markerSlack {
				markers, err := onlyMarkers(ctx, opts, topic, p, max(at, 0), end)
				if err != nil {
					return nil, err
				}
				if markers {
					continue
				}
			}
			out = append(out, Behind{Topic: topic, Partition: p, Committed: at, Target: end})
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

// onlyMarkers reports whether the offsets from..end-1 of a partition hold
// no committed data record: only control records (transaction markers)
// and aborted data. It reads them with read_committed, keeping control
// records, until it sees offset end-1 or later (a marker at the end, or
// one after an aborted record).
func onlyMarkers(ctx context.Context, opts []kgo.Opt, topic string, partition int32, from, end int64) (bool, error) {
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return false, fmt.Errorf("reading %s/%d: %w", topic, partition, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false, nil // not seen yet: count it as behind, look again later
		}
		if err := fs.Err0(); err != nil {
			return false, fmt.Errorf("reading %s/%d: %w", topic, partition, err)
		}
		for _, r := range fs.Records() {
			if r.Offset < from {
				continue
			}
			if r.Offset < end && !r.Attrs.IsControl() {
				return false, nil
			}
			if r.Offset >= end-1 {
				return true, nil
			}
		}
	}
}

// listedError is the first error of offsets other than an unknown topic.
func listedError(offsets kadm.ListedOffsets) error {
	var first error
	offsets.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && first == nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			first = o.Err
		}
	})
	return first
}
