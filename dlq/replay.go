package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// DefaultMaxReplays is the default loop guard: a record replayed this
// many times is not replayed again.
const DefaultMaxReplays = 3

// ErrRefused is wrapped by ReplayRecord's error for a record it will not
// replay.
var ErrRefused = errors.New("refused")

// ReplayRecord returns the record that replays the dead letter dl: its
// original key, value and headers on its original topic, without the
// dead-letter headers and earlier replay headers, with the replay headers
// of run id added. It refuses (an error wrapping ErrRefused) a record
// already replayed maxReplays times or more, and one that does not name
// its original topic.
func ReplayRecord(dl *kgo.Record, id string, maxReplays int) (*kgo.Record, error) {
	topic, ok := event.Header(dl, event.HeaderDLQTopic)
	if !ok || topic == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrRefused, event.HeaderDLQTopic)
	}
	count := event.ReplayCount(dl)
	if count >= maxReplays {
		return nil, fmt.Errorf("%w: replayed %d times already (--max-replays %d)", ErrRefused, count, maxReplays)
	}
	partition, _ := event.Header(dl, event.HeaderDLQPartition)
	offset, _ := event.Header(dl, event.HeaderDLQOffset)
	return replayOf(dl, topic, count, id, partition, offset), nil
}

// replayOf returns a copy of src on topic, without the dead-letter headers
// and the delivery headers other than the ingest id, with the replay
// headers of run id added: count+1 replays, and the original position
// (topic, partition, offset).
func replayOf(src *kgo.Record, topic string, count int, id, partition, offset string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+5)
	for _, h := range src.Headers {
		if event.IsDeadLetterHeader(h.Key) || (event.IsDeliveryHeader(h.Key) && h.Key != event.HeaderIngestID) {
			continue
		}
		headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	add := func(k, v string) { headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
	add(event.HeaderReplayCount, strconv.Itoa(count+1))
	add(event.HeaderReplayID, id)
	add(event.HeaderReplayOriginalTopic, topic)
	add(event.HeaderReplayOriginalPartition, partition)
	add(event.HeaderReplayOriginalOffset, offset)
	return &kgo.Record{Topic: topic, Key: bytes.Clone(src.Key), Value: bytes.Clone(src.Value), Headers: headers}
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// ID is the replay id written to every record (default event.NewID()).
	ID string
	// MaxReplays is the loop guard (default DefaultMaxReplays).
	MaxReplays int
	// DryRun reports what would be replayed without producing.
	DryRun bool
	// Rate limits the records produced per second (0: no limit).
	Rate float64
	// OnRefused, when set, is called for each refused dead letter.
	OnRefused func(dl *kgo.Record, err error)
	// Siblings, when set, returns the other chunks of a dead letter's
	// document version (see Siblings), which are replayed with it, in
	// chunk order, so that the version is processed whole.
	Siblings func(ctx context.Context, dl *kgo.Record) ([]*kgo.Record, error)
}

// ReplayReport says what Replay did.
type ReplayReport struct {
	ID       string `json:"replay_id"`
	Replayed int    `json:"replayed"`
	Refused  int    `json:"refused"`
	// Siblings counts the other chunks of the replayed versions that were
	// replayed with them (not dead letters themselves).
	Siblings int  `json:"siblings"`
	DryRun   bool `json:"dry_run"`
}

// Replay republishes the dead letters with cl (a producing client), in
// the order given, and waits for every record to be acknowledged.
func Replay(ctx context.Context, cl *kgo.Client, dls []*kgo.Record, o ReplayOptions) (ReplayReport, error) {
	if o.ID == "" {
		o.ID = event.NewID()
	}
	if o.MaxReplays <= 0 {
		o.MaxReplays = DefaultMaxReplays
	}
	rep := ReplayReport{ID: o.ID, DryRun: o.DryRun}
	var every time.Duration
	if o.Rate > 0 {
		every = time.Duration(float64(time.Second) / o.Rate)
	}
	next := time.Now()
	type chunkKey struct {
		key     string
		version int64
		index   int32
	}
	sent := map[chunkKey]bool{}
	for _, dl := range dls {
		rec, err := ReplayRecord(dl, o.ID, o.MaxReplays)
		if err != nil {
			rep.Refused++
			if o.OnRefused != nil {
				o.OnRefused(dl, err)
			}
			continue
		}
		e := Parse(dl)
		batch := []*kgo.Record{rec}
		if o.Siblings != nil {
			sibs, err := o.Siblings(ctx, dl)
			if err != nil {
				return rep, err
			}
			batch = batch[:0]
			inserted := false
			for _, s := range sibs {
				if _, idx, _, _, _ := chunkOf(s); !inserted && idx > e.Chunk {
					batch, inserted = append(batch, rec), true
				}
				batch = append(batch, SiblingRecord(s, dl, o.ID))
			}
			if !inserted {
				batch = append(batch, rec)
			}
		}
		rep.Replayed++ // counted before producing: a failure below ends the run
		for _, r := range batch {
			if _, idx, _, _, ok := chunkOf(r); ok && e.Chunk >= 0 {
				k := chunkKey{string(r.Key), e.Version, idx}
				if sent[k] {
					continue // a chunk of a version replayed already in this run
				}
				sent[k] = true
			}
			if r != rec {
				rep.Siblings++
			}
			if o.DryRun {
				continue
			}
			if every > 0 {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						return rep, ctx.Err()
					case <-time.After(d):
					}
				}
				next = time.Now().Add(every)
			}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				return rep, fmt.Errorf("dlq: replaying %d:%d to %s: %w", dl.Partition, dl.Offset, r.Topic, err)
			}
		}
	}
	return rep, nil
}
