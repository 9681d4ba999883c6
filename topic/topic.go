package topic

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/ragpipe/ragpipe/event"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Spec declares one topic.
type Spec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]string
}

// Options override the production defaults.
type Options struct {
	Partitions        int32 // default 12
	ReplicationFactor int16 // default 3
	RetentionMs       int64 // default 604800000 (7 days)
	MinInsyncReplicas int   // default 2, capped at the replication factor
}

func (o *Options) setDefaults() {
	if o.Partitions == 0 {
		o.Partitions = 12
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = 3
	}
	if o.RetentionMs == 0 {
		o.RetentionMs = 604800000
	}
	if o.MinInsyncReplicas == 0 {
		o.MinInsyncReplicas = 2
	}
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Partitions < 1 {
		return fmt.Errorf("--partitions must be at least 1, got %d", o.Partitions)
	}
	if o.ReplicationFactor < 1 {
		return fmt.Errorf("--replication-factor must be at least 1, got %d", o.ReplicationFactor)
	}
	if o.RetentionMs < -1 || o.RetentionMs == 0 {
		return fmt.Errorf("retention must be positive or -1, got %d", o.RetentionMs)
	}
	return nil
}

// Pipeline returns the specs of every ragpipe topic.
func Pipeline(o Options) ([]Spec, error) {
	o.setDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	isr := min(o.MinInsyncReplicas, int(o.ReplicationFactor))
	configs := map[string]string{
		"retention.ms":        strconv.FormatInt(o.RetentionMs, 10),
		"cleanup.policy":      "delete",
		"min.insync.replicas": strconv.Itoa(isr),
	}
	var specs []Spec
	for _, name := range event.Topics() {
		s := Spec{Name: name, Partitions: o.Partitions, ReplicationFactor: o.ReplicationFactor, Configs: maps.Clone(configs)}
		switch name {
		case event.TopicRaw:
			// Documents up to the inline limit travel in the record.
			s.Configs["max.message.bytes"] = strconv.Itoa(event.RawMaxMessageBytes)
		case event.TopicCatalog:
			s.Configs = catalogConfigs(isr)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// Configs of the compacted documents.catalog: the last entry of each key
// is kept forever (no retention by time). A segment rolls after an hour
// and is cleaned once a tenth of the log is dirty, so that the log
// compacts on a small cluster too, where the default 1 GiB segment would
// never roll; tombstones stay a day, long enough for every reader that
// started before to see them.
const (
	CatalogSegmentMs              = "3600000"
	CatalogMinCleanableDirtyRatio = "0.1"
	CatalogDeleteRetentionMs      = "86400000"
)

func catalogConfigs(isr int) map[string]string {
	return map[string]string{
		"cleanup.policy":            "compact",
		"min.cleanable.dirty.ratio": CatalogMinCleanableDirtyRatio,
		"segment.ms":                CatalogSegmentMs,
		"delete.retention.ms":       CatalogDeleteRetentionMs,
		"min.insync.replicas":       strconv.Itoa(isr),
	}
}

// Action is what Apply did or found for one topic.
type Action string

const (
	Created Action = "created"
	OK      Action = "ok"
	Drifted Action = "drift"
)

// Result reports one topic.
type Result struct {
	Topic  string
	Action Action
	// Drift lists how an existing topic differs from its spec.
	Drift []string
}

// ErrReplicationFactor is returned when the spec asks for more replicas
// than the cluster has brokers.
var ErrReplicationFactor = errors.New("replication factor exceeds the number of brokers")

// Apply creates missing topics and reports drift of existing ones. kadm
// caches metadata for the client's MetadataMinAge (5s by default), so give
// adm a client with a short one (250ms) to see topics just created.
func Apply(ctx context.Context, adm *kadm.Client, specs []Spec) ([]Result, error) {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("topics: reading cluster metadata: %w", err)
	}
	brokers := len(meta.Brokers)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("topics: listing topics: %w", err)
	}
	var missing []Spec
	for _, s := range specs {
		if !existing.Has(s.Name) || existing[s.Name].Err != nil {
			missing = append(missing, s)
		}
	}
	for _, s := range missing {
		if int(s.ReplicationFactor) > brokers {
			return nil, fmt.Errorf("topic %s: %w: asked for %d replicas but the cluster has %d broker(s); pass --replication-factor %d (or less)",
				s.Name, ErrReplicationFactor, s.ReplicationFactor, brokers, brokers)
		}
	}

	results := map[string]Result{}
	for _, s := range missing {
		cfg := map[string]*string{}
		for k, v := range s.Configs {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, cfg, s.Name)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			continue // created concurrently: check it below
		}
		if errors.Is(err, kerr.InvalidReplicationFactor) {
			return nil, fmt.Errorf("topic %s: %w; pass --replication-factor %d (or less)", s.Name, err, brokers)
		}
		if err != nil {
			return nil, fmt.Errorf("topics: creating %s: %w", s.Name, err)
		}
		results[s.Name] = Result{Topic: s.Name, Action: Created}
	}

	var toCheck []Spec
	for _, s := range specs {
		if _, done := results[s.Name]; !done {
			toCheck = append(toCheck, s)
		}
	}
	if len(toCheck) > 0 {
		drift, err := check(ctx, adm, toCheck)
		if err != nil {
			return nil, err
		}
		for _, s := range toCheck {
			r := Result{Topic: s.Name, Action: OK, Drift: drift[s.Name]}
			if len(r.Drift) > 0 {
				r.Action = Drifted
			}
			results[s.Name] = r
		}
	}
	out := make([]Result, 0, len(specs))
	for _, s := range specs {
		out = append(out, results[s.Name])
	}
	return out, nil
}

func check(ctx context.Context, adm *kadm.Client, specs []Spec) (map[string][]string, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	// A topic just created may take a moment to show in metadata.
	var td kadm.TopicDetails
	for attempt := 0; ; attempt++ {
		var err error
		if td, err = adm.ListTopics(ctx, names...); err != nil {
			return nil, fmt.Errorf("topics: describing: %w", err)
		}
		if td.Error() == nil || attempt == 50 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("topics: describing configs: %w", err)
	}
	drift := map[string][]string{}
	for _, s := range specs {
		d, ok := td[s.Name]
		if !ok || d.Err != nil {
			return nil, fmt.Errorf("topics: describing %s: %v (found %v)", s.Name, d.Err, ok)
		}
		if got := int32(len(d.Partitions)); got != s.Partitions {
			drift[s.Name] = append(drift[s.Name], fmt.Sprintf("partitions: has %d, spec %d", got, s.Partitions))
		}
		if got := d.Partitions.NumReplicas(); got != int(s.ReplicationFactor) {
			drift[s.Name] = append(drift[s.Name], fmt.Sprintf("replication factor: has %d, spec %d", got, s.ReplicationFactor))
		}
		rc, err := cfgs.On(s.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("topics: configs of %s: %w", s.Name, err)
		}
		have := map[string]string{}
		for _, c := range rc.Configs {
			have[c.Key] = c.MaybeValue()
		}
		for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
			if have[k] != s.Configs[k] {
				drift[s.Name] = append(drift[s.Name], fmt.Sprintf("%s: has %q, spec %q", k, have[k], s.Configs[k]))
			}
		}
	}
	return drift, nil
}
