package dlq

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// idleStop ends a read when a partition sends nothing more for this long
// although its end offset was not reached (the last offsets of a
// partition can be transaction markers, which are never delivered).
const idleStop = 2 * time.Second

// Read calls fn for every record of topic, partition by partition in
// offset order, from each partition's start to the end offset it had when
// Read began. opts connect to the cluster (broker.Config.Opts); Read makes
// its own client, joins no group and commits nothing. fn returning an
// error stops the read with that error.
func Read(ctx context.Context, opts []kgo.Opt, topic string, fn func(*kgo.Record) error) error {
	return ReadFrom(ctx, opts, topic, nil, fn)
}

// ReadFrom is Read of only the partitions in from, each starting at the
// given offset (or its log start, when later); a nil from reads every
// partition from its start.
func ReadFrom(ctx context.Context, opts []kgo.Opt, topic string, from map[int32]int64, fn func(*kgo.Record) error) error {
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("dlq: kafka client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
	}
	admCl.Close()
	if err != nil {
		return fmt.Errorf("dlq: listing offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{} // partition → end offset still to reach
	assign := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(topic, o.Partition); ok {
			start = s.Offset
		}
		f, ok := from[o.Partition]
		if from != nil && !ok {
			return
		}
		if f > start {
			start = f
		}
		if start < o.Offset {
			want[o.Partition] = o.Offset
			assign[o.Partition] = kgo.NewOffset().At(start)
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer cl.Close()
	idle := 5 * idleStop // the first fetch also connects
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		got := 0
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if err != context.DeadlineExceeded && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("dlq: reading %s: %w", topic, ferr)
		}
		var stop error
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if stop != nil || !ok || r.Offset >= end {
				return
			}
			got++
			if err := fn(r); err != nil {
				stop = err
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if stop != nil {
			return stop
		}
		if got == 0 {
			return nil // nothing more arrives: the rest are markers
		}
		idle = idleStop
	}
	return nil
}
