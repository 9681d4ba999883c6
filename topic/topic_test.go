package topic

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
)

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestApplyCreatesThenIsIdempotentAndReportsDrift(t *testing.T) {
	ctx := context.Background()
	adm := admin(t)
	specs, err := Pipeline(Options{Partitions: 6, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, adm, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != Created {
			t.Fatalf("first apply: %+v", r)
		}
	}
	res, err = Apply(ctx, adm, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != OK {
			t.Fatalf("second apply should change nothing: %+v", r)
		}
	}
	// A spec asking for more partitions and another retention is drift.
	more, _ := Pipeline(Options{Partitions: 8, ReplicationFactor: 1, RetentionMs: 1000})
	res, err = Apply(ctx, adm, more)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != Drifted || len(res[0].Drift) != 2 {
		t.Fatalf("want partitions and retention drift, got %+v", res[0])
	}
	td, _ := adm.ListTopics(ctx, event.TopicParsed)
	if n := len(td[event.TopicParsed].Partitions); n != 6 {
		t.Fatalf("apply must not change an existing topic: %d partitions", n)
	}
}

func TestReplicationFactorAboveBrokersNamesTheFlag(t *testing.T) {
	specs, _ := Pipeline(Options{})
	_, err := Apply(context.Background(), admin(t), specs)
	if !errors.Is(err, ErrReplicationFactor) {
		t.Fatalf("want ErrReplicationFactor, got %v", err)
	}
	if want := "--replication-factor 1"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %q", err, want)
	}
}

func TestDefaults(t *testing.T) {
	specs, err := Pipeline(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != len(event.Topics()) {
		t.Fatalf("%d specs for %d pipeline topics", len(specs), len(event.Topics()))
	}
	for _, s := range specs {
		mmb, ok := s.Configs["max.message.bytes"]
		if s.Name == event.TopicRaw && mmb != strconv.Itoa(event.RawMaxMessageBytes) || s.Name != event.TopicRaw && ok {
			t.Errorf("%s: max.message.bytes %q", s.Name, mmb)
		}
	}
	for _, s := range specs {
		compact := s.Configs["cleanup.policy"] == "compact"
		if compact != (s.Name == event.TopicCatalog) {
			t.Errorf("%s: cleanup.policy %q", s.Name, s.Configs["cleanup.policy"])
		}
		if _, ok := s.Configs["retention.ms"]; compact && ok {
			t.Errorf("%s: compacted, yet retention.ms %q", s.Name, s.Configs["retention.ms"])
		}
		if compact && (s.Configs["segment.ms"] == "" || s.Configs["min.cleanable.dirty.ratio"] == "" || s.Configs["min.insync.replicas"] != "2") {
			t.Errorf("%s: configs %v", s.Name, s.Configs)
		}
	}
	if event.RawMaxMessageBytes <= event.RawInlineMax {
		t.Errorf("max.message.bytes %d for inline documents of up to %d bytes", event.RawMaxMessageBytes, event.RawInlineMax)
	}
	s := specs[0]
	if s.Partitions != 12 || s.ReplicationFactor != 3 || s.Configs["retention.ms"] != "604800000" ||
		s.Configs["cleanup.policy"] != "delete" || s.Configs["min.insync.replicas"] != "2" {
		t.Fatalf("defaults: %+v", s)
	}
	if _, err := Pipeline(Options{Partitions: -1}); err == nil {
		t.Fatal("negative partitions accepted")
	}
}

// A catalog topic created with the delete policy (by hand, or by an older
// tool) is drift: ingest relies on compaction keeping every document's
// last entry.
func TestCatalogCleanupPolicyDrift(t *testing.T) {
	ctx := context.Background()
	adm := admin(t)
	resp, err := adm.CreateTopic(ctx, 6, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, event.TopicCatalog)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := Pipeline(Options{Partitions: 6, ReplicationFactor: 1})
	res, err := Apply(ctx, adm, specs)
	if err != nil {
		t.Fatal(err)
	}
	var got Result
	for _, r := range res {
		if r.Topic == event.TopicCatalog {
			got = r
		} else if r.Action != Created {
			t.Errorf("%+v", r)
		}
	}
	if got.Action != Drifted || !strings.Contains(strings.Join(got.Drift, "; "), `cleanup.policy: has "delete", spec "compact"`) {
		t.Fatalf("want cleanup.policy drift on %s, got %+v", event.TopicCatalog, got)
	}
}
